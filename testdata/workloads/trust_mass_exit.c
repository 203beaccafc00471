/* trust_mass_exit N READYFILE: fork N sleepers into one new process group,
 * write "pgid G sleepers N" to READYFILE (whole, by rename) once all are
 * forked, reap them, then write "reaped R killed K" to READYFILE.done and
 * exit 0 when every sleeper died of SIGKILL. The test kills the group at
 * once (kill(-G, SIGKILL)): N exits in the same instant. */
#include <signal.h>
#include "common.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s N READYFILE\n", argv[0]);
		return 2;
	}
	long n = arg_long(argc, argv, 1, 1000);
	const char *ready = argv[2];
	pid_t group = 0;
	int retries = 0;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0 && errno == EAGAIN && retries++ < 600) {
			/* pids or tasks short for a moment (other tests): wait */
			usleep(50000);
			i--;
			continue;
		}
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			/* Both sides set the group, so neither races the other. */
			setpgid(0, group);
			for (;;)
				pause();
		}
		if (setpgid(pid, group ? group : pid) < 0 && errno != EACCES)
			die("setpgid");
		if (!group)
			group = pid;
	}
	char tmp[4096], done[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", ready);
	snprintf(done, sizeof done, "%s.done", ready);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "pgid %d sleepers %ld\n", (int)group, n) < 0 || fclose(f) || rename(tmp, ready))
		die(ready);

	long reaped = 0, killed = 0;
	int st;
	pid_t pid;
	while ((pid = wait(&st)) > 0 || errno == EINTR) {
		if (pid <= 0)
			continue;
		reaped++;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
	}
	f = fopen(done, "w");
	if (!f || fprintf(f, "reaped %ld killed %ld\n", reaped, killed) < 0 || fclose(f))
		die(done);
	return reaped == n && killed == n ? 0 : 1;
}
