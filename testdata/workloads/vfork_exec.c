/* vfork_exec N [PATH]: vfork + execve PATH (default /bin/true) N times,
 * waiting for each. The parent is suspended until the child execs. */
#include "common.h"

/* vfork in a frame of its own, so the child cannot clobber main's locals. */
static __attribute__((noinline)) pid_t spawn(const char *path, char **args)
{
	pid_t pid = vfork();
	if (pid == 0) {
		execve(path, args, environ);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 100);
	const char *path = arg_str(argc, argv, 2, "/bin/true");
	char *args[] = {(char *)path, NULL};
	int bad = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid = spawn(path, args);
		if (pid < 0)
			die("vfork");
		if (wait_child(pid) != 0)
			bad = 1;
	}
	return bad;
}
