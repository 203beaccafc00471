#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
static void x(const char *path, char *const argv[], char *const envp[]) {
	pid_t p = fork();
	if (p == 0) { syscall(SYS_execve, path, argv, envp); _exit(127); }
	waitpid(p, NULL, 0);
}
int main(void) {
	char *a1[] = {"/bin/echo", "tab\there", "nl\nx", "q\"b\\s", "\001" "7x", "\001x", "\377\200", "\033[1m", NULL};
	char *one[] = {"FOO=1", NULL};
	char *none[] = {NULL};
	x("/bin/true", a1, one);
	x("/bin/true", (char*[]){"abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456", "abcdefghijklmnopqrstuvwxyz01234", NULL}, none);
	char *many[40]; char buf[40][8];
	for (int i = 0; i < 39; i++) { snprintf(buf[i], 8, "a%d", i); many[i] = buf[i]; }
	many[39] = NULL;
	x("/bin/true", many, NULL);
	x("/nonexistent", (char*[]){"x", NULL}, environ);
	x("/etc/passwd", (char*[]){"x", NULL}, environ);   /* EACCES */
	x("/tmp/st/noexec.txt", (char*[]){"x", NULL}, environ); /* ENOEXEC */
	x((char*)1, (char*[]){"x", NULL}, environ);        /* EFAULT */
	x(NULL, (char*[]){"x", NULL}, environ);            /* EFAULT, NULL */
	x("/bin/true", NULL, environ);
	x("/bin/true", (char**)8, environ);
	x("/bin/true", (char*[]){"x", NULL}, (char**)8);
	x("/tmp/st/d\tir/\n", (char*[]){"x", NULL}, environ);
	/* E2BIG */
	size_t n = 3 << 20; char *big = malloc(n); memset(big, 'a', n-1); big[n-1] = 0;
	x("/bin/true", (char*[]){"x", big, NULL}, environ);
	/* execveat */
	pid_t p = fork();
	if (p == 0) { syscall(SYS_execveat, AT_FDCWD, "/nonexistent", (char*[]){"y", NULL}, environ, 0); _exit(1); }
	waitpid(p, NULL, 0);
	int fd = open("/bin/true", O_RDONLY);
	p = fork();
	if (p == 0) { syscall(SYS_execveat, fd, "", (char*[]){"true", NULL}, environ, AT_EMPTY_PATH); _exit(1); }
	waitpid(p, NULL, 0);
	p = fork();
	if (p == 0) { syscall(SYS_execveat, fd, "x", (char*[]){"true", NULL}, environ, AT_SYMLINK_NOFOLLOW|0x8000); _exit(1); }
	waitpid(p, NULL, 0);
	/* signals */
	p = fork(); if (p == 0) { raise(SIGKILL); } waitpid(p, NULL, 0);
	p = fork(); if (p == 0) { *(volatile int*)0 = 1; } waitpid(p, NULL, 0);
	p = fork(); if (p == 0) { _exit(255); } waitpid(p, NULL, 0);
	return 0;
}
