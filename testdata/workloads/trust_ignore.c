/* trust_ignore SIG...: survive each signal SIG (numbers): a handler writes
 * "signal N\n" on stdout for every one received and carries on. Writes
 * "ready\n" once the handlers are set, then sleeps until killed by a signal
 * it does not catch (SIGKILL). */
#include <signal.h>
#include "common.h"

static void note(int sig)
{
	char buf[] = "signal 00\n";
	buf[7] = '0' + sig / 10;
	buf[8] = '0' + sig % 10;
	int saved = errno;
	if (write(1, buf, sizeof buf - 1) < 0) {
		/* nothing to do */
	}
	errno = saved;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = note, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	for (int i = 1; i < argc; i++) {
		int sig = (int)arg_long(argc, argv, i, 0);
		if (sig < 1 || sig > 64 || sigaction(sig, &sa, NULL) < 0)
			die("sigaction");
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
