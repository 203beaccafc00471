/* trust_storm NPROC N COUNTFILE [PATH]: fork NPROC spawners that each
 * posix_spawn PATH (default /bin/true) N times at once, waiting for each
 * child; then write to COUNTFILE what was performed:
 *
 *	spawners NPROC spawns S failed F
 *
 * S counts the posix_spawn calls that returned 0 and whose child exited 0
 * (each is one clone3 and one successful execve), F the others. Each
 * spawner tallies in memory shared with the parent, so nothing depends on
 * a child's stdio being flushed. Exits 0 when F is 0 and every spawner
 * exited 0. */
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include "common.h"

struct tally {
	atomic_long go;     /* spawners start together once set */
	atomic_long ready;  /* spawners waiting for go */
	atomic_long spawns[];
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s NPROC N COUNTFILE [PATH]\n", argv[0]);
		return 2;
	}
	long nproc = arg_long(argc, argv, 1, 8);
	long n = arg_long(argc, argv, 2, 100);
	const char *countfile = argv[3];
	const char *path = arg_str(argc, argv, 4, "/bin/true");
	size_t len = sizeof(struct tally) + 2 * nproc * sizeof(atomic_long);
	struct tally *t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		die("mmap");
	atomic_long *failed = t->spawns + nproc;

	pid_t *kids = calloc(nproc, sizeof *kids);
	if (!kids)
		die("calloc");
	for (long s = 0; s < nproc; s++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			char *args[] = {(char *)path, NULL};
			atomic_fetch_add(&t->ready, 1);
			while (!atomic_load(&t->go))
				sched_yield();
			for (long i = 0; i < n; i++) {
				pid_t c;
				if (posix_spawn(&c, path, NULL, NULL, args, environ) != 0) {
					atomic_fetch_add(&failed[s], 1);
					continue;
				}
				if (wait_child(c) != 0)
					atomic_fetch_add(&failed[s], 1);
				else
					atomic_fetch_add(&t->spawns[s], 1);
			}
			_exit(0);
		}
		kids[s] = pid;
	}
	while (atomic_load(&t->ready) < nproc)
		usleep(1000);
	atomic_store(&t->go, 1);

	int bad = 0;
	for (long s = 0; s < nproc; s++)
		if (wait_child(kids[s]) != 0)
			bad = 1;
	long spawns = 0, fails = 0;
	for (long s = 0; s < nproc; s++) {
		spawns += atomic_load(&t->spawns[s]);
		fails += atomic_load(&failed[s]);
	}
	FILE *f = fopen(countfile, "w");
	if (!f)
		die(countfile);
	fprintf(f, "spawners %ld spawns %ld failed %ld\n", nproc, spawns, fails);
	if (fclose(f) != 0)
		die(countfile);
	return bad || fails;
}
