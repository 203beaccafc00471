/* int80 N: a 64-bit static program (cc -static -no-pie) that spawns through
 * int $0x80, the i386 table: N times fork (2) and clone (120, flags SIGCHLD),
 * each child failing an execve (11) the same way and exiting through the
 * x86_64 table; the parent waits with x86_64's wait4. int $0x80 takes 32-bit
 * pointers: the static data of a non-PIE program lies below 4 GiB. */
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long int80(long nr, long a, long b, long c, long d, long e)
{
	long ret;
	__asm__ volatile("push %%rbp\n\tmov %6, %%rbp\n\tint $0x80\n\tpop %%rbp"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "r"(e)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

static char path[] = "/nonexistent/int80";
static unsigned int argv32[2];

static void child(void)
{
	int80(11, (long)path, (long)argv32, 0, 0, 0);
	syscall(SYS_exit_group, 0);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	argv32[0] = (unsigned int)(unsigned long)path;
	for (int i = 0; i < n; i++) {
		long pid = int80(2, 0, 0, 0, 0, 0);
		if (pid == 0)
			child();
		int st;
		if (pid < 0 || wait4(pid, &st, 0, NULL) != pid)
			return 1;
		pid = int80(120, SIGCHLD, 0, 0, 0, 0);
		if (pid == 0)
			child();
		if (pid < 0 || wait4(pid, &st, 0, NULL) != pid)
			return 1;
	}
	return 0;
}
