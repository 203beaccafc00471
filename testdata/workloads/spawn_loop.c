/* spawn_loop MODE N MIB THREADS [PROG]: touch MIB MiB of anonymous memory in
 * 4 KiB pages, then start PROG (default /bin/true; for spawnp, "true") N
 * times, waiting for each. MODE is how: fork (fork + execve), spawn
 * (posix_spawn) or spawnp (posix_spawnp, which walks PATH in the child);
 * spawn_bg is spawn without waiting for each child, as a task runner
 * starts jobs: each thread reaps its children after starting them all.
 * pipe_fork is fork as Rust's std falls back to it (a pipe2(O_CLOEXEC) for
 * the child's exec error, then fork + execve), from C. fork_thp is fork
 * with the MIB MiB in transparent huge pages (madvise(MADV_HUGEPAGE)),
 * the thp finding's advice; every other mode keeps them in 4 KiB pages.
 * With THREADS > 1 the N spawns are shared among that many threads; with 1
 * the main thread spawns and the process has no other thread.
 *
 * It prints the loop's wall time and the CPU time (user and system) the
 * loop took in this process and its children, in nanoseconds, on one line
 * of stdout. With one thread the loop is serial: on an idle machine its
 * wall time is its CPU time, and on a loaded one the CPU time is what the
 * loop would take alone. The same program with another MODE, THREADS or
 * environment is a finding's advice applied: the tests time both sides
 * untraced and hold the finding's estimate to the difference. */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include "common.h"

static const char *mode;
static const char *prog;

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

/* CPU time of this process and of its children waited for. */
static long long cpu_ns(void)
{
	struct rusage self, kids;
	if (getrusage(RUSAGE_SELF, &self) || getrusage(RUSAGE_CHILDREN, &kids))
		die("getrusage");
	return tv_ns(self.ru_utime) + tv_ns(self.ru_stime) + tv_ns(kids.ru_utime) + tv_ns(kids.ru_stime);
}

/* spawn_one starts prog; with wait, waits for it. Returns 1 on failure,
 * or the child's pid in *bg when it is left running. */
static int spawn_one(int wait, pid_t *bg)
{
	char *args[] = {(char *)prog, NULL};
	pid_t pid;
	int pipe_fork = strcmp(mode, "pipe_fork") == 0;
	if (strcmp(mode, "fork") == 0 || strcmp(mode, "fork_thp") == 0 || pipe_fork) {
		int errpipe[2];
		if (pipe_fork && pipe2(errpipe, O_CLOEXEC))
			die("pipe2");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execve(prog, args, environ);
			_exit(127);
		}
		if (pipe_fork) {
			char c;
			close(errpipe[1]);
			if (read(errpipe[0], &c, 1) != 0) /* EOF: the exec closed it */
				die("exec");
			close(errpipe[0]);
		}
	} else {
		int err = strcmp(mode, "spawnp") == 0
				  ? posix_spawnp(&pid, prog, NULL, NULL, args, environ)
				  : posix_spawn(&pid, prog, NULL, NULL, args, environ);
		if (err)
			return 1;
	}
	if (!wait) {
		*bg = pid;
		return 0;
	}
	return wait_child(pid) != 0;
}

static void *run(void *arg)
{
	long n = (long)arg;
	long bad = 0;
	int wait = strcmp(mode, "spawn_bg") != 0;
	pid_t *kids = wait ? NULL : calloc(n, sizeof *kids);
	if (!wait && !kids)
		die("calloc");
	for (long i = 0; i < n; i++)
		bad |= spawn_one(wait, wait ? NULL : &kids[i]);
	for (long i = 0; !wait && i < n; i++)
		if (kids[i] > 0)
			bad |= wait_child(kids[i]) != 0;
	free(kids);
	return (void *)bad;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s fork|fork_thp|pipe_fork|spawn|spawnp|spawn_bg N MIB THREADS [PROG]\n", argv[0]);
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "fork") && strcmp(mode, "fork_thp") && strcmp(mode, "pipe_fork") && strcmp(mode, "spawn") &&
	    strcmp(mode, "spawnp") && strcmp(mode, "spawn_bg")) {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], mode);
		return 2;
	}
	long n = arg_long(argc, argv, 2, 0);
	long mib = arg_long(argc, argv, 3, 0);
	long threads = arg_long(argc, argv, 4, 1);
	prog = arg_str(argc, argv, 5, strcmp(mode, "spawnp") == 0 ? "true" : "/bin/true");
	if (threads < 1 || n < threads) {
		fprintf(stderr, "%s: need 1 <= THREADS <= N\n", argv[0]);
		return 2;
	}
	if (mib > 0) {
		size_t len = (size_t)mib << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		madvise(p, len, strcmp(mode, "fork_thp") == 0 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
	}

	long long start = now_ns(), start_cpu = cpu_ns();
	long bad = 0;
	if (threads == 1) {
		bad = (long)run((void *)n);
	} else {
		pthread_t *t = calloc(threads, sizeof *t);
		if (!t)
			die("calloc");
		for (long i = 0; i < threads; i++) {
			long share = n / threads + (i < n % threads);
			int err = pthread_create(&t[i], NULL, run, (void *)share);
			if (err) {
				errno = err;
				die("pthread_create");
			}
		}
		for (long i = 0; i < threads; i++) {
			void *ret;
			pthread_join(t[i], &ret);
			bad |= (long)ret;
		}
	}
	long long wall = now_ns() - start;
	printf("%lld %lld\n", wall, cpu_ns() - start_cpu);
	return bad != 0;
}
