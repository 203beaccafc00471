/* compat32 N: a 32-bit program (cc -m32) whose calls go through the kernel's
 * i386 table. N times it forks a child that fails an execve (ENOENT) and
 * then execs /bin/true (a 64-bit program), vforks a child that execs itself
 * as "compat32 0" (32-bit to 32-bit), and posix_spawns /bin/true; it waits
 * for each. Each round starts with a socketpair, which 32-bit glibc 2.36
 * makes through socketcall (102) and strace counts as socketpair. In the i386 table fork is 2, execve 11, clone 120, vfork 190,
 * wait4 114: read as x86_64 numbers they are open, munmap, getresgid,
 * setregid and munmap's neighbours. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void wait_ok(pid_t pid)
{
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "compat32: child %d failed\n", pid);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	char *fail[] = {"/nonexistent/compat32", NULL};
	char *yes[] = {"/bin/true", NULL};
	char *self[] = {argv[0], "0", NULL};
	for (int i = 0; i < n; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
			return 1;
		close(sv[0]);
		close(sv[1]);
		pid_t pid = fork();
		if (pid == 0) {
			execve(fail[0], fail, environ);
			execve(yes[0], yes, environ);
			_exit(127);
		}
		wait_ok(pid);
		pid = vfork();
		if (pid == 0) {
			execve("/proc/self/exe", self, environ);
			_exit(127);
		}
		wait_ok(pid);
		if (posix_spawn(&pid, yes[0], NULL, NULL, yes, environ) != 0)
			pid = -1;
		wait_ok(pid);
	}
	return 0;
}
