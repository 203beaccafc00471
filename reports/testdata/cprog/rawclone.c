#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>
#include <stdint.h>
static long tlsbuf[64];
static void rc(unsigned long flags, int *ptid, int *ctid, unsigned long tls) {
	long r = syscall(SYS_clone, flags, 0, ptid, ctid, tls);
	if (r == 0) syscall(SYS_exit, 0);
	if (r > 0) waitpid(r, NULL, __WALL);
}
static void rc3(struct clone_args *a, size_t sz) {
	long r = syscall(SYS_clone3, a, sz);
	if (r == 0) syscall(SYS_exit, 0);
	if (r > 0) waitpid(r, NULL, __WALL);
}
int main(void) {
	int ptid = 0, ctid = 0, pidfd = -1; signal(SIGUSR1, SIG_IGN); signal(35, SIG_IGN); signal(40, SIG_IGN);
	rc(SIGCHLD, NULL, NULL, 0);
	rc(0, NULL, NULL, 0);
	rc(SIGUSR1, NULL, NULL, 0);
	rc(CLONE_PARENT_SETTID|SIGCHLD, &ptid, NULL, 0);
	rc(CLONE_SETTLS|SIGCHLD, NULL, NULL, (unsigned long)tlsbuf);
	rc(CLONE_PARENT_SETTID|CLONE_SETTLS|CLONE_CHILD_SETTID|SIGCHLD, &ptid, &ctid, (unsigned long)tlsbuf);
	rc(CLONE_PIDFD|SIGCHLD, &pidfd, NULL, 0);
	rc(0x400000|SIGCHLD, NULL, NULL, 0);
	rc(0x400000, NULL, NULL, 0);
	rc(0x100000000UL|CLONE_FS|SIGCHLD, NULL, NULL, 0);
	rc(40, NULL, NULL, 0);  /* SIGRT_8 */
	
	rc(35, NULL, NULL, 0);
	rc(CLONE_THREAD|SIGCHLD, NULL, NULL, 0); /* EINVAL */
	rc(CLONE_PARENT_SETTID|CLONE_THREAD|SIGCHLD, &ptid, NULL, 0); /* EINVAL */
	rc(CLONE_VM|CLONE_VFORK|SIGCHLD, NULL, NULL, 0);
	struct clone_args a;
	memset(&a, 0, sizeof a); a.exit_signal = SIGCHLD; rc3(&a, sizeof a);
	memset(&a, 0, sizeof a); rc3(&a, sizeof a);
	memset(&a, 0, sizeof a); rc3(&a, 64);
	memset(&a, 0, sizeof a); a.flags = CLONE_PIDFD; a.pidfd = (uintptr_t)&pidfd; a.exit_signal = SIGCHLD; rc3(&a, 88);
	memset(&a, 0, sizeof a); a.flags = CLONE_PARENT_SETTID|CLONE_CHILD_SETTID; a.parent_tid = (uintptr_t)&ptid; a.child_tid = (uintptr_t)&ctid; a.exit_signal = SIGCHLD; rc3(&a, 88);
	memset(&a, 0, sizeof a); a.flags = CLONE_CLEAR_SIGHAND|CLONE_FILES; a.exit_signal = SIGCHLD; rc3(&a, 88);
	memset(&a, 0, sizeof a); a.flags = 0x400000000ULL; a.exit_signal = SIGCHLD; rc3(&a, 88); /* unknown bit, EINVAL */
	memset(&a, 0, sizeof a); a.flags = CLONE_SETTLS; a.tls = (uintptr_t)tlsbuf; a.exit_signal = SIGCHLD; rc3(&a, 88);
	memset(&a, 0, sizeof a); a.flags = CLONE_VM|CLONE_VFORK; a.exit_signal = 0x100000000ULL; rc3(&a, 88); /* EINVAL */
	memset(&a, 0, sizeof a); a.flags = 0x80; a.exit_signal = SIGCHLD; rc3(&a, 88); /* CLONE_NEWTIME */
	rc3(NULL, 88);
	rc3(&a, 32);
	syscall(SYS_fork) == 0 ? syscall(SYS_exit, 0) : wait(NULL);
	return 0;
}
