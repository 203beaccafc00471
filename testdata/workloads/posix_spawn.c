/* posix_spawn N [PATH]: posix_spawn PATH (default /bin/true) N times, waiting
 * for each. glibc >= 2.24 does this with clone3(CLONE_VM|CLONE_VFORK). */
#include <spawn.h>
#include "common.h"

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 100);
	const char *path = arg_str(argc, argv, 2, "/bin/true");
	char *args[] = {(char *)path, NULL};
	int bad = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int err = posix_spawn(&pid, path, NULL, NULL, args, environ);
		if (err) {
			bad = 1;
			continue;
		}
		if (wait_child(pid) != 0)
			bad = 1;
	}
	return bad;
}
