/* Spawns once from each of five call sites, each through another glibc
 * path: fork (_Fork, clone), vfork (its return address in rdi), posix_spawn
 * (clone3 with CLONE_VFORK), system and popen (posix_spawn inside glibc).
 * Built by the test with gcc -O2 -fomit-frame-pointer and run under
 * ptrace, which copies its stack at each spawn call's exit as spawntrace's
 * BPF side does. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
volatile int sink;

__attribute__((noipa)) void site_fork(void) {
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	sink++;
}

__attribute__((noipa)) void site_vfork(void) {
	pid_t pid = vfork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	sink++;
}

__attribute__((noipa)) void site_posix_spawn(void) {
	pid_t pid;
	char *argv[] = {"true", NULL};
	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0)
		waitpid(pid, NULL, 0);
	sink++;
}

__attribute__((noipa)) void site_system(void) {
	sink += system("true");
}

__attribute__((noipa)) void site_popen(void) {
	FILE *f = popen("true", "r");
	if (f)
		pclose(f);
	sink++;
}

int main(void) {
	site_fork();
	site_vfork();
	site_posix_spawn();
	site_system();
	site_popen();
	return 0;
}
