/* trust_bigexec args BYTES [PATH] | env COUNT [PATH]: posix_spawn PATH
 * (default /bin/true) once, with an oversized argument list or environment,
 * wait for it and exit with its status.
 *
 *   args BYTES: argv is PATH then arguments of 2000 bytes ("00001:aaa..."),
 *               the last one shorter, BYTES in all counting each string's
 *               terminating NUL (as the kernel's ARG_MAX check does); the
 *               environment is this process's.
 *   env COUNT:  argv is {PATH}; the environment is exactly COUNT variables
 *               SPAWNTRACE_TRUST_00001=1 ... and nothing else.
 *
 * Before spawning it writes "argc N envc M bytes B" on stdout (flushed),
 * so a test knows exactly what was passed. E2BIG and other spawn errors
 * are reported on stderr with exit status 2. */
#include <spawn.h>
#include "common.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s args BYTES [PATH] | env COUNT [PATH]\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	long n = arg_long(argc, argv, 2, 0);
	char *path = (char *)arg_str(argc, argv, 3, "/bin/true");
	char **args, **env = environ;
	long nargs = 1, nenv = 0, bytes = 0;
	for (char **e = environ; *e; e++)
		nenv++;

	if (strcmp(mode, "args") == 0) {
		const long piece = 2000;
		long room = n - (long)(strlen(path) + 1);
		long max = room / piece + 2;
		args = calloc(max + 1, sizeof *args);
		if (!args)
			die("calloc");
		args[0] = path;
		bytes = strlen(path) + 1;
		while (room > 1) {
			long len = room >= piece + 1 ? piece : room - 1; /* bytes before the NUL */
			char *a = malloc(len + 1);
			if (!a)
				die("malloc");
			memset(a, 'a' + nargs % 26, len);
			char head[16];
			int h = snprintf(head, sizeof head, "%05ld:", nargs);
			memcpy(a, head, h < len ? h : len);
			a[len] = 0;
			args[nargs++] = a;
			bytes += len + 1;
			room -= len + 1;
		}
		args[nargs] = NULL;
	} else if (strcmp(mode, "env") == 0) {
		args = calloc(2, sizeof *args);
		env = calloc(n + 1, sizeof *env);
		if (!args || !env)
			die("calloc");
		args[0] = path;
		for (long i = 0; i < n; i++) {
			char *v = malloc(48);
			if (!v)
				die("malloc");
			snprintf(v, 48, "SPAWNTRACE_TRUST_%05ld=1", i + 1);
			env[i] = v;
		}
		env[n] = NULL;
		nenv = n;
		bytes = strlen(path) + 1;
	} else {
		fprintf(stderr, "%s: mode must be args or env, not %s\n", argv[0], mode);
		return 2;
	}

	printf("argc %ld envc %ld bytes %ld\n", nargs, nenv, bytes);
	fflush(stdout);
	pid_t pid;
	int err = posix_spawn(&pid, path, NULL, NULL, args, env);
	if (err) {
		fprintf(stderr, "%s: posix_spawn %s: %s\n", argv[0], path, strerror(err));
		return 2;
	}
	return wait_child(pid);
}
