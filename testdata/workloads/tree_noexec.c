/* tree_noexec: children that end before any exec of theirs succeeds.
 *
 * For each of fork() and vfork(), one child of each kind, in this order:
 *	_exit(0) at once, with no exec at all;
 *	execve of a missing file (fails ENOENT), then _exit(127);
 *	fork() only: killed by SIGKILL before it could exec (a vfork child
 *	must not die holding its parent's memory, so not with vfork).
 * A tracer must count each as a spawn whose child never exec'd, charge the
 * failed execve (counted as an error, as strace -c does) to its child, and
 * see every child end with its status. The workload exits 0 when each
 * child ended as planned. */
#include <signal.h>
#include "common.h"

#define MISSING "/nonexistent-spawntrace/never"

/* run makes one child of kind, with vfork or fork, and returns how it
 * ended (exit code, or 128+signal). A function of its own, so that no
 * local of the caller lives across vfork. */
static int run(int use_vfork, int kind)
{
	char *args[] = {"never", NULL};
	pid_t pid = use_vfork ? vfork() : fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (kind == 1)
			execve(MISSING, args, environ);
		if (kind == 2)
			kill(getpid(), SIGKILL);
		_exit(kind == 1 ? 127 : 0);
	}
	return wait_child(pid);
}

int main(void)
{
	int bad = 0;
	for (int v = 0; v < 2; v++) {
		for (int kind = 0; kind < 3; kind++) {
			if (v && kind == 2)
				continue;
			int want = kind == 0 ? 0 : kind == 1 ? 127 : 128 + SIGKILL;
			bad |= run(v, kind) != want;
		}
	}
	return bad;
}
