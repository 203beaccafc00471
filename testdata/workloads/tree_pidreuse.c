/* tree_pidreuse: four children in a row get the same pid, each running a
 * different program, so that a tracer that keys processes by pid must
 * still tell them apart.
 *
 * Round 0 forks a child that execs /bin/true; its pid P is noted. Before
 * each later round the workload writes P-1 to /proc/sys/kernel/ns_last_pid
 * (root only), so the kernel hands out P again, P being free once the
 * previous child is reaped. Another process of the machine may take P
 * first: the child checks its pid and, when it is not P, exits 100 at once
 * without exec'ing, and the round is tried again (at most 1000 times).
 * ns_last_pid only says where the next pid search starts: nothing global
 * is left changed.
 *
 *	round 0: fork,  execve /bin/true           exits 0
 *	round 1: vfork, execve /bin/false          exits 1
 *	round 2: fork,  execve /bin/sleep 0        exits 0
 *	round 3: vfork, execve of a missing file   fails ENOENT, _exit(127)
 *
 * The workload prints on stdout
 *
 *	pid P forks F vforks V misses M
 *
 * where F and V count every fork() and vfork() call, retries included,
 * and exits 0 when each round's child exited as planned. */
#include <fcntl.h>
#include "common.h"

#define MISSING "/nonexistent-spawntrace/reused"

struct round {
	int use_vfork;
	const char *path;
	char *args[3];
	int code;
};

static const struct round rounds[] = {
	{0, "/bin/true", {"true", NULL}, 0},
	{1, "/bin/false", {"false", NULL}, 1},
	{0, "/bin/sleep", {"sleep", "0", NULL}, 0},
	{1, MISSING, {"reused", NULL}, 127},
};

/* The pid every round's child must have (0 in round 0: any). A global, so
 * that a vfork child reads it from the memory it shares. */
static pid_t want;

static int set_last_pid(pid_t last)
{
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
	if (fd < 0)
		return -1;
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%d", (int)last);
	int ok = write(fd, buf, n) == n;
	close(fd);
	return ok ? 0 : -1;
}

/* spawn runs round rd once and returns its child's pid and exit status. */
static pid_t spawn(const struct round *rd, int *code)
{
	pid_t pid = rd->use_vfork ? vfork() : fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (want && getpid() != want)
			_exit(100);
		execve(rd->path, rd->args, environ);
		_exit(127);
	}
	*code = wait_child(pid);
	return pid;
}

int main(void)
{
	long forks = 0, vforks = 0, misses = 0;
	int bad = 0;
	for (int r = 0; r < 4; r++) {
		const struct round *rd = &rounds[r];
		for (int try = 0;; try++) {
			if (try == 1000) {
				fprintf(stderr, "pid %d never came back\n", (int)want);
				return 1;
			}
			if (want && set_last_pid(want - 1))
				die("ns_last_pid");
			if (rd->use_vfork)
				vforks++;
			else
				forks++;
			int code;
			pid_t pid = spawn(rd, &code);
			if (!want)
				want = pid;
			if (pid != want) {
				misses++;
				continue;
			}
			bad |= code != rd->code;
			break;
		}
	}
	printf("pid %d forks %ld vforks %ld misses %ld\n", (int)want, forks, vforks, misses);
	return bad;
}
