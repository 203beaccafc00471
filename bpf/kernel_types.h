/* The few kernel fields spawntrace reads, declared with preserve_access_index
 * so CO-RE relocates them against the running kernel's BTF (no vmlinux.h). */
#ifndef KERNEL_TYPES_H
#define KERNEL_TYPES_H

typedef struct {
	int counter;
} atomic_t;

struct task_struct;

struct signal_struct {
	atomic_t live;
	/* the thread whose exec is killing the others (de_thread, >= 5.16) */
	struct task_struct *group_exec_task;
} __attribute__((preserve_access_index));

typedef struct {
	long counter;
} atomic_long_t;

/* Since 6.2 the RSS counters are percpu_counters; count is exact to within
 * a batch (32 pages) per CPU, which is all spawntrace needs. */
struct percpu_counter {
	long long count;
} __attribute__((preserve_access_index));

/* enum mm counter indexes */
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SHMEMPAGES 3

/* Only its address is taken (kprobes on the lock functions). */
struct rw_semaphore {
	long count;
} __attribute__((preserve_access_index));

/* The program a process runs (mm_struct.exe_file, what /proc/PID/exe
 * opens): the exec event names it by device and inode, and its version by
 * change time and size (a file rewritten in place keeps its inode). */
struct super_block {
	__u32 s_dev; /* dev_t: MAJOR << 20 | MINOR */
} __attribute__((preserve_access_index));

struct timespec64 {
	__s64 tv_sec;
	long tv_nsec;
} __attribute__((preserve_access_index));

/* The change time's fields since 6.11; since 6.13 bit 31 of i_ctime_nsec
 * says the time was queried (multigrain timestamps, I_CTIME_QUERIED). */
struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
	long long i_size;
	__s64 i_ctime_sec;
	__u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

/* 6.6 to 6.10: the change time is __i_ctime. */
struct inode___v66 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

/* Before 6.6: i_ctime. */
struct inode___pre66 {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct rw_semaphore mmap_lock; /* mmap_sem before 5.8 */
	struct file *exe_file;
	struct percpu_counter rss_stat[4];
	atomic_long_t pgtables_bytes;
	int map_count;
	atomic_t mm_users;         /* tasks using the address space (threads, a vfork parent) */
	unsigned long start_stack; /* after exec: argc, then the argv and envp arrays */
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
} __attribute__((preserve_access_index));

/* Before 6.2 the RSS counters were atomics in a struct mm_rss_stat, exact
 * apart from the per-thread caches (SPLIT_RSS_COUNTING). on_fork reads
 * whichever layout the running kernel has (bpf_core_field_exists). */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

/* x86: thread_info.status holds TS_COMPAT while the task is in a compat
 * (i386-table) syscall, from its entry to its return to user mode: the
 * kernel's in_ia32_syscall(). exec sets or clears it for the new program. */
struct thread_info {
	__u32 status;
} __attribute__((preserve_access_index));

#define TS_COMPAT 0x0002
/* x86-64's user code segment selector of 32-bit code (GDT entry 4, RPL 3):
 * what a 32-bit program's pt_regs->cs holds, whether it entered by int
 * $0x80, sysenter or syscall. */
#define USER32_CS 0x23

/* A task's ids in each pid namespace it is visible in: numbers[0] in the
 * initial one, numbers[level] in its own. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct pid_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
	struct upid numbers[1];
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	int pid;
	int tgid;
	int exit_code;
	char comm[16];
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	struct mm_struct *mm;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

/* The context of an iter/task program: each task of the machine in turn. */
struct bpf_iter_meta {
	void *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

/* The kernel's names for the saved user registers (the uapi header's
 * struct pt_regs names them rdi, rsi, ...; CO-RE matches by the name
 * before the ___ flavor suffix, so this relocates against pt_regs). A
 * compat syscall's arguments are in bx, cx, dx, si, di, bp. */
struct pt_regs___kernel {
	unsigned long bp;
	unsigned long bx;
	unsigned long cx;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax; /* the syscall number, still there at sys_exit */
	unsigned long ip;      /* user registers, for unwinding a spawner's stack */
	unsigned long cs;      /* its low 16 bits (6.9+: a union's u16 cs) say the user mode: __USER32_CS for 32-bit code */
	unsigned long sp;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *filename;
	int argc;
	int envc;
} __attribute__((preserve_access_index));

#endif
