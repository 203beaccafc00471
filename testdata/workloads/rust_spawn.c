/* rust_spawn N [PATH]: the pattern of Rust's std::process::Command when it
 * cannot use posix_spawn: socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC),
 * fork, execve PATH (default /bin/true) in the child, and the parent reads the
 * socket: EOF means the exec succeeded (CLOEXEC closed the child's end), 4
 * bytes mean it failed with that errno. */
#include <sys/socket.h>
#include "common.h"

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 100);
	const char *path = arg_str(argc, argv, 2, "/bin/true");
	char *args[] = {(char *)path, NULL};
	int bad = 0;
	for (long i = 0; i < n; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair");
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(sv[0]);
			execve(path, args, environ);
			int e = errno;
			(void)!write(sv[1], &e, sizeof e);
			_exit(127);
		}
		close(sv[1]);
		int e;
		ssize_t r;
		do
			r = recv(sv[0], &e, sizeof e, 0);
		while (r < 0 && errno == EINTR);
		close(sv[0]);
		if (r != 0)
			bad = 1;
		if (wait_child(pid) != 0)
			bad = 1;
	}
	return bad;
}
