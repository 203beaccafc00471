/* kill_self SIG: kill this process with signal SIG (default SIGKILL). */
#include <signal.h>
#include "common.h"

int main(int argc, char **argv)
{
	int sig = (int)arg_long(argc, argv, 1, SIGKILL);
	signal(sig, SIG_DFL);
	kill(getpid(), sig);
	pause();
	return 1;
}
