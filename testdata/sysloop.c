/* sysloop [N]: make N (default 1000000) getppid() syscalls and print the
 * mean CPU time of one in ns (the thread's CPU clock: the BPF programs run
 * in it, and another process's load on a shared machine does not count).
 * make bench runs it untraced, under empty programs on the syscall
 * tracepoints, and under spawntrace: the cost of tracing one syscall,
 * apart from spawning. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n <= 0) {
		fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
		return 2;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
