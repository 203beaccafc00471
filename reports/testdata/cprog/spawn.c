#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/sched.h>
#include <stdint.h>
extern char **environ;
static void *thr(void *a) { return a; }
int main(void) {
	pid_t p; int st; int sv[2];
	/* glibc fork */
	if ((p = fork()) == 0) _exit(3);
	waitpid(p, &st, 0);
	/* vfork */
	if ((p = vfork()) == 0) _exit(0);
	waitpid(p, &st, 0);
	/* posix_spawn */
	char *av[] = {"/bin/true", NULL};
	posix_spawn(&p, "/bin/true", NULL, NULL, av, environ);
	waitpid(p, &st, 0);
	/* posix_spawnp walks PATH */
	char *av2[] = {"true", NULL};
	posix_spawnp(&p, "true", NULL, NULL, av2, environ);
	waitpid(p, &st, 0);
	/* socketpair */
	socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, sv);
	socketpair(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0, sv);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	socketpair(AF_INET, SOCK_STREAM, 0, sv);
	socketpair(AF_UNIX, 9, 0, sv);
	socketpair(99, SOCK_STREAM, 0, sv);
	/* thread */
	pthread_t t; pthread_create(&t, NULL, thr, NULL); pthread_join(t, NULL);
	return 0;
}
