/* spawn_mode N MIB PROG [timed]: touch MIB MiB of memory, then spawn PROG N
 * times, waiting for each: with posix_spawnp, or with fork + execvp when the
 * environment says SPAWN_MODE=fork (so that both ways run one command
 * line, as one program does on two hosts whose libc differ). A PROG
 * without a slash is searched in PATH, one failed execve per entry before
 * the one that holds it. With "timed", it prints on stdout the loop's
 * nanoseconds per spawn, wall and CPU (its own and its children's, user and
 * system; the memory set-up left out), and the median child's CPU time. */
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include "common.h"

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_ns(struct timeval tv)
{
	return tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* cpu_ns is the CPU time of this process and its waited-for children. */
static long long cpu_ns(void)
{
	struct rusage self, children;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	return tv_ns(self.ru_utime) + tv_ns(self.ru_stime) + tv_ns(children.ru_utime) + tv_ns(children.ru_stime);
}

int main(int argc, char **argv)
{
	if (argc != 4 && (argc != 5 || strcmp(argv[4], "timed") != 0)) {
		fprintf(stderr, "usage: %s N MIB PROG [timed]\n", argv[0]);
		return 2;
	}
	long n = arg_long(argc, argv, 1, 0);
	long mib = arg_long(argc, argv, 2, 0);
	const char *prog = argv[3];
	const char *mode = getenv("SPAWN_MODE");
	int use_fork = mode && strcmp(mode, "fork") == 0;
	if (mib > 0) {
		size_t len = (size_t)mib << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		madvise(p, len, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
	}
	char *args[] = {(char *)prog, NULL};
	int timed = argc == 5;
	long long *child_ns = timed ? calloc(n > 0 ? n : 1, sizeof(long long)) : NULL;
	if (timed && !child_ns)
		die("calloc");
	long long start = now_ns(), start_cpu = cpu_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid;
		if (use_fork) {
			pid = fork();
			if (pid < 0)
				die("fork");
			if (pid == 0) {
				execvp(prog, args);
				_exit(127);
			}
		} else if ((errno = posix_spawnp(&pid, prog, NULL, NULL, args, environ)) != 0) {
			die("posix_spawnp");
		}
		if (timed) {
			/* wait4 gives this child's own CPU time. */
			int st;
			struct rusage ru;
			while (wait4(pid, &st, 0, &ru) < 0)
				if (errno != EINTR)
					die("wait4");
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				return 5;
			child_ns[i] = tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
		} else if (wait_child(pid) != 0) {
			return 5;
		}
	}
	if (timed && n > 0) {
		long long wall = now_ns() - start, cpu = cpu_ns() - start_cpu;
		qsort(child_ns, n, sizeof(*child_ns), cmp_ll);
		printf("%lld %lld %lld\n", wall / n, cpu / n, child_ns[n / 2]);
	}
	return 0;
}
