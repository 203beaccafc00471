/* fork_busy N MIB: touch MIB MiB, start a thread that keeps taking the
 * process's mmap lock (mmap + munmap of a page in a loop), then fork + exec
 * /bin/true N times from the main thread. While fork copies the address
 * space it holds that lock, so the busy thread stalls: the lock-stall
 * measurement's workload. */
#include <pthread.h>
#include <sys/mman.h>
#include "common.h"

static volatile int stop;

static void *churn(void *arg)
{
	(void)arg;
	while (!stop) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 10);
	long mib = arg_long(argc, argv, 2, 256);
	size_t len = (size_t)mib << 20;
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	madvise(mem, len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += 4096)
		mem[off] = 1;
	pthread_t th;
	if (pthread_create(&th, NULL, churn, NULL))
		die("pthread_create");
	int bad = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execl("/bin/true", "/bin/true", (char *)NULL);
			_exit(127);
		}
		if (wait_child(pid) != 0)
			bad = 1;
	}
	stop = 1;
	pthread_join(th, NULL);
	return bad;
}
