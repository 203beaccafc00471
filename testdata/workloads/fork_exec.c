/* fork_exec N [MIB [PATH]]: touch MIB MiB of anonymous memory (default 0), then
 * fork + execve PATH (default /bin/true) N times, waiting for each. fork copies
 * the parent's page tables, so its cost grows with MIB. */
#include <sys/mman.h>
#include "common.h"

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 100);
	long mib = arg_long(argc, argv, 2, 0);
	const char *path = arg_str(argc, argv, 3, "/bin/true");
	if (mib > 0) {
		size_t len = (size_t)mib << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
	}
	char *args[] = {(char *)path, NULL};
	int bad = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execve(path, args, environ);
			_exit(127);
		}
		if (wait_child(pid) != 0)
			bad = 1;
	}
	return bad;
}
