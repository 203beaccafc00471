/* tree_daemon PIDFILE [N [SETUP]]: daemonize by a double fork, as a
 * service does, then do the daemon's work.
 *
 * The top process forks a child and waits for it; the child forks the
 * grandchild and exits at once, so the grandchild is orphaned and
 * reparented (to init, or to the nearest subreaper above). The top process
 * then exits while the grandchild still runs: a tracer that stops when the
 * top process ends, or that finds the tree through parent links, loses the
 * daemon. strace -f waits for it.
 *
 * The grandchild detaches its stdio (so that only a tracer waits for it),
 * waits until it has been reparented, sleeps 200 ms, writes
 *
 *	grandchild PID ppid PPID
 *
 * to PIDFILE, posix_spawns /bin/true N times (default 3) waiting for each,
 * and at last execs /bin/true itself.
 *
 * SETUP (default 0): before forking the grandchild, the child runs
 * /bin/true that many times (posix_spawn, waiting for each) and then
 * pauses 20 ms, as a launch script runs a setup step or two before it
 * starts the daemon: the daemon is then not the first process its parent
 * made, and its birth is not the first thing the tracer hears of it. */
#include <fcntl.h>
#include <spawn.h>
#include <time.h>
#include "common.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void grandchild(const char *pidfile, long n, pid_t old_parent)
{
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		_exit(1);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	setsid();
	while (getppid() == old_parent)
		sleep_ms(1);
	sleep_ms(200);
	FILE *f = fopen(pidfile, "w");
	if (!f)
		_exit(1);
	fprintf(f, "grandchild %d ppid %d\n", (int)getpid(), (int)getppid());
	if (fclose(f))
		_exit(1);
	char *args[] = {"/bin/true", NULL};
	for (long i = 0; i < n; i++) {
		pid_t pid;
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) || wait_child(pid))
			_exit(1);
	}
	execve("/bin/true", args, environ);
	_exit(127);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PIDFILE [N [MISSES]]\n", argv[0]);
		return 2;
	}
	long n = arg_long(argc, argv, 2, 3);
	long setup = arg_long(argc, argv, 3, 0);
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		char *args[] = {"/bin/true", NULL};
		for (long i = 0; i < setup; i++) {
			pid_t pid;
			if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) || wait_child(pid))
				_exit(1);
		}
		if (setup > 0)
			sleep_ms(20);
		pid_t me = getpid();
		pid_t gc = fork();
		if (gc < 0)
			_exit(1);
		if (gc == 0)
			grandchild(argv[1], n, me);
		_exit(0);
	}
	/* The grandchild is on its own now: the top process exits first. */
	return wait_child(child);
}
