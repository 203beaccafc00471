/* tree_threadexec [N]: a thread that is not the leader execs.
 *
 * The workload starts N threads (default 3); the main thread then blocks
 * in pthread_join of the last, the others sleep. The last thread calls
 * execve of /bin/sh -c '/bin/true; /bin/true; exit 0'. The kernel kills
 * every other thread, the leader included, and the exec'ing thread takes
 * over the leader's pid: the process lives on, running sh, which then
 * forks and execs /bin/true twice. A tracer must count the exec once and
 * keep following the process (sh's two children). */
#include <pthread.h>
#include <time.h>
#include "common.h"

static void *sleeper(void *arg)
{
	(void)arg;
	struct timespec ts = {10, 0};
	nanosleep(&ts, NULL);
	return NULL;
}

static void *execer(void *arg)
{
	(void)arg;
	/* Let the other threads reach their blocking calls first. */
	struct timespec ts = {0, 20 * 1000000};
	nanosleep(&ts, NULL);
	char *args[] = {"sh", "-c", "/bin/true; /bin/true; exit 0", NULL};
	execve("/bin/sh", args, environ);
	_exit(127);
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 3);
	pthread_t t;
	for (long i = 0; i < n; i++) {
		int err = pthread_create(&t, NULL, i == n - 1 ? execer : sleeper, NULL);
		if (err) {
			errno = err;
			die("pthread_create");
		}
	}
	pthread_join(t, NULL);
	return 1; /* not reached: the exec replaced this program */
}
