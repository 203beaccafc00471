/* Shared helpers for the spawntrace test workloads: argument parsing and
 * waiting for a child. Each workload is silent unless it is asked to write. */
#ifndef SPAWNTRACE_WORKLOAD_COMMON_H
#define SPAWNTRACE_WORKLOAD_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static inline long arg_long(int argc, char **argv, int i, long def)
{
	if (i >= argc)
		return def;
	char *end;
	errno = 0;
	long v = strtol(argv[i], &end, 0);
	if (errno || *end || end == argv[i]) {
		fprintf(stderr, "%s: bad number %s\n", argv[0], argv[i]);
		exit(2);
	}
	return v;
}

static inline const char *arg_str(int argc, char **argv, int i, const char *def)
{
	return i < argc ? argv[i] : def;
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Wait for pid; return its exit status or 128+signal. */
static inline int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			die("waitpid");
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

#endif
