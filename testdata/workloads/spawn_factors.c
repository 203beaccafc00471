/* spawn_factors N: posix_spawn /usr/bin/true N times in each of three ways,
 * taking turns spawn by spawn so that the machine's changing load falls on
 * all three alike, and print the median child's CPU time (user + system,
 * from wait4) of each, in ns: the children get 20 environment variables;
 * the children get 200; the children get 20 and are found by posix_spawnp
 * through this process's PATH. What one factor of the blog's laptop/cluster
 * case costs, untraced. */
#define _GNU_SOURCE
#include <spawn.h>
#include <sys/resource.h>
#include "common.h"

enum { BASE, ENV, SEARCH, WAYS };

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static char **make_env(int vars)
{
	char **env = calloc(vars + 1, sizeof(char *));
	if (!env)
		die("calloc");
	env[0] = "PATH=/usr/bin:/bin";
	for (int i = 1; i < vars; i++) {
		if (asprintf(&env[i], "BLOG_VAR_%03d=some-value-of-a-typical-length-%03d", i, i) < 0)
			die("asprintf");
	}
	return env;
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 100);
	if (n < 1)
		return 2;
	char **small = make_env(20), **large = make_env(200);
	long long *ns[WAYS];
	for (int w = 0; w < WAYS; w++)
		if (!(ns[w] = calloc(n, sizeof(long long))))
			die("calloc");
	for (long i = 0; i < n; i++) {
		for (int w = 0; w < WAYS; w++) {
			char *args[] = {w == SEARCH ? "true" : "/usr/bin/true", NULL};
			pid_t pid;
			int err = w == SEARCH ? posix_spawnp(&pid, "true", NULL, NULL, args, small)
					      : posix_spawn(&pid, "/usr/bin/true", NULL, NULL, args, w == ENV ? large : small);
			if (err) {
				errno = err;
				die("posix_spawn");
			}
			int st;
			struct rusage ru;
			while (wait4(pid, &st, 0, &ru) < 0)
				if (errno != EINTR)
					die("wait4");
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				return 5;
			ns[w][i] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
				   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
		}
	}
	for (int w = 0; w < WAYS; w++) {
		qsort(ns[w], n, sizeof(long long), cmp_ll);
		printf("%lld%c", ns[w][n / 2], w == WAYS - 1 ? '\n' : ' ');
	}
	return 0;
}
