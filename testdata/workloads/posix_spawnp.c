/* posix_spawnp N [NAME]: posix_spawnp NAME (default "true") N times. The child
 * walks PATH, so every PATH entry before the one holding NAME costs a failed
 * execve (ENOENT). */
#include <spawn.h>
#include "common.h"

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 100);
	const char *name = arg_str(argc, argv, 2, "true");
	char *args[] = {(char *)name, NULL};
	int bad = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int err = posix_spawnp(&pid, name, NULL, NULL, args, environ);
		if (err) {
			bad = 1;
			continue;
		}
		if (wait_child(pid) != 0)
			bad = 1;
	}
	return bad;
}
