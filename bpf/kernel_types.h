/* The few kernel fields spawntrace reads, declared with preserve_access_index
 * so CO-RE relocates them against the running kernel's BTF (no vmlinux.h). */
#ifndef KERNEL_TYPES_H
#define KERNEL_TYPES_H

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	int exit_code;
	char comm[16];
	struct task_struct *real_parent;
	struct mm_struct *mm;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *filename;
	int argc;
	int envc;
} __attribute__((preserve_access_index));

#endif
