/* threads N [M]: start N threads (glibc: clone3 with CLONE_THREAD); each
 * posix_spawns /bin/true M times (default 0) and waits for it. The threads
 * are threads, not processes: only the M*N spawns are new processes. */
#include <pthread.h>
#include <spawn.h>
#include "common.h"

static long per_thread;

static void *run(void *arg)
{
	(void)arg;
	char *args[] = {"/bin/true", NULL};
	for (long i = 0; i < per_thread; i++) {
		pid_t pid;
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ))
			return (void *)1;
		if (wait_child(pid) != 0)
			return (void *)1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 8);
	per_thread = arg_long(argc, argv, 2, 0);
	pthread_t *t = calloc(n, sizeof *t);
	if (!t)
		die("calloc");
	for (long i = 0; i < n; i++) {
		int err = pthread_create(&t[i], NULL, run, NULL);
		if (err) {
			errno = err;
			die("pthread_create");
		}
	}
	int bad = 0;
	for (long i = 0; i < n; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		if (ret)
			bad = 1;
	}
	return bad;
}
