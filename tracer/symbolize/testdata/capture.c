/* Captures its own stack as spawntrace's BPF side does at a spawn call:
 * rip, rsp and rbp of the innermost function, the stack's bytes from rsp
 * up (at most 64 KiB), and /proc/self/maps, written to DIR.
 *
 *   capture direct DIR   main -> f1 -> f2 -> f3, which captures
 *   capture qsort DIR    main -> g1 -> qsort -> (glibc) -> cmp, which captures
 *   capture signal DIR   main -> h1 -> raise -> (kernel) -> handler, which captures
 *
 * Built by the test with gcc -O2 -fomit-frame-pointer. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static int captured;
static unsigned char stack_copy[64 << 10];

static void save(const char *name, const void *p, size_t n) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static uint64_t stack_top(void) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	uint64_t lo, hi, top = 0;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			top = hi;
	if (f)
		fclose(f);
	return top;
}

static void copy_maps(void) {
	static char buf[1 << 20];
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
	if (f)
		fclose(f);
	save("maps", buf, n);
}

/* CAPTURE reads the registers where it stands, so the CFI row of that
 * rip describes that rsp; then copies the stack above rsp, which the calls
 * after it (below rsp) leave alone. */
#define CAPTURE()                                                                          \
	do {                                                                               \
		uint64_t regs[3];                                                          \
		__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"      \
				 : "=r"(regs[0]), "=r"(regs[1]), "=r"(regs[2]));           \
		uint64_t n = stack_top() - regs[1];                                        \
		if (n > sizeof stack_copy)                                                 \
			n = sizeof stack_copy;                                             \
		memcpy(stack_copy, (void *)regs[1], n);                                    \
		save("regs", regs, sizeof regs);                                           \
		save("stack", stack_copy, n);                                              \
		copy_maps();                                                               \
	} while (0)

volatile int sink;

__attribute__((noipa)) int f3(int x) {
	CAPTURE();
	return x + sink;
}

__attribute__((noipa)) int f2(int x) { return f3(x * 3) + 2; }

__attribute__((noipa)) int f1(int x) { return f2(x + 1) * 5; }

__attribute__((noipa)) int cmp(const void *a, const void *b) {
	int x = *(const int *)a, y = *(const int *)b;
	if (!captured) {
		captured = 1;
		CAPTURE();
	}
	return (x > y) - (x < y);
}

__attribute__((noipa)) int g1(int n) {
	int *v = malloc(n * sizeof *v);
	for (int i = 0; i < n; i++)
		v[i] = (i * 7919) % n;
	qsort(v, n, sizeof *v, cmp);
	int r = v[n / 2];
	free(v);
	return r;
}

__attribute__((noipa)) void handler(int sig) {
	CAPTURE();
	sink = sig;
}

__attribute__((noipa)) int h1(int x) {
	signal(SIGUSR1, handler);
	raise(SIGUSR1);
	return x + sink;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: capture direct|qsort|signal DIR\n");
		return 2;
	}
	dir = argv[2];
	int r;
	if (strcmp(argv[1], "qsort") == 0)
		r = g1(1000);
	else if (strcmp(argv[1], "signal") == 0)
		r = h1(argc);
	else
		r = f1(argc);
	printf("%d\n", r);
	return 0;
}
