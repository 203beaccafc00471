/* spawn_mode N MIB PROG: touch MIB MiB of memory, then spawn PROG N times,
 * waiting for each: with posix_spawnp, or with fork + execvp when the
 * environment says SPAWN_MODE=fork (so that both ways run one command
 * line, as one program does on two hosts whose libc differ). A PROG
 * without a slash is searched in PATH, one failed execve per entry before
 * the one that holds it. */
#include <spawn.h>
#include <sys/mman.h>
#include "common.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s N MIB PROG\n", argv[0]);
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
		if (wait_child(pid) != 0)
			return 5;
	}
	return 0;
}
