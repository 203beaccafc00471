/* tree_subreaper: a subreaper adopts its orphaned grandchild.
 *
 * The workload marks itself a child subreaper (PR_SET_CHILD_SUBREAPER, as
 * service managers and container inits do), forks a child that forks the
 * grandchild and exits at once. The kernel reparents the grandchild to the
 * workload, not to init. The grandchild waits until that has happened,
 * posix_spawns /bin/true, waits for it and exits with 3. The workload reaps
 * both its child and its adopted grandchild with wait(-1) until ECHILD
 * (three wait4 calls, the last failing), prints "child C grandchild G" on
 * stdout and exits 0 when each exited as expected (child 0, grandchild 3). */
#include <spawn.h>
#include <sys/prctl.h>
#include <time.h>
#include "common.h"

int main(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		die("prctl");
	pid_t top = getpid();
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		pid_t me = getpid();
		pid_t gc = fork();
		if (gc < 0)
			_exit(1);
		if (gc == 0) {
			struct timespec ms = {0, 1000000};
			while (getppid() == me)
				nanosleep(&ms, NULL);
			if (getppid() != top)
				_exit(1); /* not adopted by the subreaper */
			char *args[] = {"/bin/true", NULL};
			pid_t pid;
			if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) || wait_child(pid))
				_exit(1);
			_exit(3);
		}
		_exit(0);
	}
	int bad = 0, reaped = 0;
	pid_t grandchild = 0;
	for (;;) {
		int st;
		pid_t p = wait(&st);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				die("wait");
			break;
		}
		reaped++;
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (p == child) {
			bad |= code != 0;
		} else {
			grandchild = p;
			bad |= code != 3;
		}
	}
	bad |= reaped != 2 || grandchild == 0;
	printf("child %d grandchild %d\n", (int)child, (int)grandchild);
	return bad;
}
