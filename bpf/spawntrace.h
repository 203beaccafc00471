/* Shared between the BPF programs and Go (through bpf2go -type). Holds only
 * the record layouts and their size limits: fixed fields first, strings and
 * stacks last, and each only in the records of the kinds that use it. */
#ifndef SPAWNTRACE_H
#define SPAWNTRACE_H

#include "sysno.h" /* SOCKETCALL_*: socketcall's call numbers */

#define COMM_LEN 16
#define PATH_LEN 256
/* argv is packed as NUL-separated strings; ARG_CHUNK bounds one argument. */
#define ARGV_LEN 512
#define ARG_CHUNK 128
#define MAX_ARGS 16
/* Numbers per syscall table; syscall_stats holds the x86_64 table's, then
 * the i386 (compat) table's, MAX_SYSCALLS each. */
#define MAX_SYSCALLS 512
#define SYSCALL_TABLES 2
/* Stack depths: the spawning thread's user stack on spawn events, kernel
 * and user stacks on CPU samples. */
#define SPAWN_STACK_DEPTH 32
#define SAMPLE_STACK_DEPTH 64
/* Bytes of a spawner's user stack copied from its stack pointer for an
 * unwinder in user space (with --pprof or -w). Unwinds to _start read at
 * most: make 8.9 KB (its main's frame is ~6.7 KB), bash 3.7 KB, python3
 * subprocess 3.2 KB, Rust's Command::spawn 2.3 KB, glibc's fork,
 * posix_spawn, system and popen from C 2.0 KB. The main thread's copy
 * stops at its mm->start_stack, so shallower stacks send less. */
#define STACK_COPY_MAX 16384

/* The kind of a ring-buffer record, its first field: it says which struct
 * the record is. Records are sized by kind, so that a burst of small ones
 * (25 000 exits at once) fits the ring where one size for all, ~2 KB with
 * the strings and the stack, lost more than half of them. */
enum event_kind {
	EV_SYSCALL = 1,       /* a spawn-related syscall, enter and exit paired (struct syscall_event) */
	EV_FORK = 2,          /* sched_process_fork: a new task, process or thread (struct fork_event) */
	EV_EXEC = 3,          /* sched_process_exec: the exec that succeeded (struct exec_event) */
	EV_EXIT = 4,          /* sched_process_exit: a task of the tree exited (struct exit_event) */
	EV_SAMPLE = 5,        /* an on-CPU sample (struct sample) */
	EV_SYSCALL_EXEC = 6,  /* EV_SYSCALL of an exec that failed, with its strings (struct syscall_exec_event) */
	EV_SYSCALL_SPAWN = 7, /* EV_SYSCALL that made a process, with the caller's stack (struct syscall_spawn_event) */
	EV_STACK_COPY = 8,    /* the registers and stack bytes of the EV_SYSCALL_SPAWN that follows it (struct stack_copy) */
};

/* Bits of the header's flags (event_hdr.flags), an enum so that bpf2go
 * gives Go their values (-type event_flag). */
enum event_flag {
	EVF_THREAD = 1,         /* fork: the child is a thread (CLONE_THREAD) */
	EVF_ARGV_TRUNCATED = 2, /* argv did not fit ARGV_LEN / MAX_ARGS */
	EVF_GROUP_DEAD = 4,     /* exit: the last thread of the process */
	EVF_NAME_UNREAD = 8,    /* filename could not be read */
	EVF_ARGV_UNREAD = 16,   /* failed exec: argv and envp not read (no bpf_loop) */
	EVF_PARENT_MM = 32,     /* rss_*, pgtables_bytes and map_count are set */
	EVF_SUPERSEDED = 64,    /* exit: a leader killed by another thread's exec (exec_tid: that thread) */
	EVF_USTACK_IPS = 128,   /* ustack holds bare addresses (__u64 each): the kernel gave no build IDs */
	EVF_COMPAT = 256,       /* syscall: nr and args are of the i386 table (compat); exec: the new program's are; fork: made by an i386 call no program timed (LOST_COMPAT) */
};

/* i386 numbers the kernel side counts socketcall's accept, send and recv
 * under: they have no i386 number of their own, so SOCKETCALL_PSEUDO plus
 * their socketcall number (sysno.h: SYS_ACCEPT 5, SYS_SEND 9, SYS_RECV 10),
 * past the end of the i386 table and below MAX_SYSCALLS. socketcall's other
 * calls count as their own i386 numbers (sysno.h). */
enum socketcall_pseudo {
	SOCKETCALL_PSEUDO = 490,
	SOCKETCALL_PSEUDO_ACCEPT = SOCKETCALL_PSEUDO + SOCKETCALL_ACCEPT,
	SOCKETCALL_PSEUDO_SEND = SOCKETCALL_PSEUDO + SOCKETCALL_SEND,
	SOCKETCALL_PSEUDO_RECV = SOCKETCALL_PSEUDO + SOCKETCALL_RECV,
};

/* Indexes of the lost-counter array. */
enum lost_kind {
	LOST_RINGBUF = 0,    /* ring buffer full: a detailed event dropped */
	LOST_INFLIGHT = 1,   /* no syscall slot (task storage, or the tid hash full): a syscall not timed */
	LOST_SPAWN_SLOT = 2, /* per-thread spawn slot map full: a spawn call not paired */
	LOST_TRACKED = 3,    /* tracked-process map full: a process not followed */
	LOST_COMPAT = 4,     /* --spawns-only: a 32-bit clone-family call before the 32-bit path was attached */
	LOST_KINDS = 5,
};

/* The first fields of the kernel's struct clone_args (clone3). */
struct clone3_args {
	__u64 flags;
	__u64 pidfd;
	__u64 child_tid;
	__u64 parent_tid;
	__u64 exit_signal;
	__u64 stack;
	__u64 stack_size;
	__u64 tls;
};

/* Per CPU and syscall number. The first EXACT_TIMED_CALLS calls of a
 * number on a CPU are timed (time_ns, timed_calls), and so is every
 * spawn-related call; of the rest one in TIME_SAMPLE_EVERY, chosen at
 * random (sampled_ns, sampled_calls): user space scales their mean to the
 * calls not timed. time_ns is exact while timed_calls == calls. */
#define EXACT_TIMED_CALLS 64
#define TIME_SAMPLE_EVERY 8
struct syscall_stat {
	__u64 calls;
	__u64 errors;
	__u64 time_ns;
	__u64 timed_calls;
	__u64 sampled_ns;
	__u64 sampled_calls;
	__u32 sample_rng; /* xorshift32 state: which call is timed next */
	__u32 pad;
};

/* Every ring-buffer record but a sample starts with this header.
 * Every id in a record is as spawntrace's pid namespace numbers it (0: not
 * visible there); host_pid and host_child_pid are the initial namespace's,
 * set only when spawntrace runs in another (a container). */
struct event_hdr {
	__u32 kind;  /* enum event_kind: which struct the record is */
	__u32 flags; /* EVF_* */
	__u64 ts_ns; /* CLOCK_MONOTONIC: syscall entry, or the moment of fork/exec/exit */
	__u32 tid;
	__u32 pid;  /* tgid */
	__u32 ppid; /* tgid of the real parent */
	__u32 host_pid;
	char comm[COMM_LEN];
};

struct fork_event {
	struct event_hdr h;
	__u32 child_tid; /* the new task */
	__u32 child_pid; /* its tgid */
	__u32 host_child_pid;
	__u32 pad;
};

struct exit_event {
	struct event_hdr h;
	__s32 exit_code; /* task->exit_code (wait status form) */
	__u32 exec_tid;  /* EVF_SUPERSEDED: the thread whose exec took the leader's place */
};

/* An exec's strings: the successful one's from sched_process_exec, a
 * failed one's from its syscall's exit. */
struct exec_strings {
	__u32 argc;
	__u32 envc;
	__u32 env_bytes; /* sched_process_exec only */
	__u32 argv_len;  /* bytes of argv[] in use */
	/* sched_process_exec only: entries of PATH in the new environment
	 * (empty ones included), -1 when it has none, 0 when not read. */
	__s32 path_entries;
	__u32 pad;
	char filename[PATH_LEN];
	char argv[ARGV_LEN];
};

struct exec_event {
	struct event_hdr h;
	__u32 old_tid; /* the tid before exec (old_pid) */
	/* The file the process now runs (its mm's exe_file): the symbolizer
	 * indexes each program once without a syscall per exec. Both 0 when
	 * unread. */
	__u32 exe_dev; /* the kernel's dev_t: MAJOR << 20 | MINOR */
	__u64 exe_ino;
	/* ... and the version of it: its inode's change time, which every
	 * write, truncate and chmod moves (0 when the kernel's struct inode
	 * has none of the fields read), and its size. */
	__u64 exe_ctime_ns;
	__u64 exe_size_bytes;
	struct exec_strings x;
};

struct syscall_event {
	struct event_hdr h;
	__u32 nr;        /* syscall number, of the i386 table under EVF_COMPAT, else x86_64's */
	__u32 map_count; /* the parent's VMAs (EVF_PARENT_MM) */
	__u64 dur_ns;    /* entry to exit */
	__s64 ret;
	__u64 args[6];
	struct clone3_args c3; /* clone3 only */
	/* Spawn anatomy, on clone/clone3/fork/vfork events (zero when unknown). */
	__u64 copy_ns;        /* dup_mmap on CPU: the parent's mmap write lock held, less time preempted */
	__u64 copy_offcpu_ns; /* ... and the time the copying thread was off CPU meanwhile */
	__u64 lock_stall_ns;  /* other threads of the parent waiting for that lock meanwhile */
	__u64 blocked_ns;     /* the calling thread off CPU during the syscall */
	__u64 teardown_ns;    /* execve: the old (copied) address space torn down */
	__s64 rss_anon_pages; /* the parent at fork: mm->rss_stat (EVF_PARENT_MM) */
	__s64 rss_file_pages;
	__s64 rss_shmem_pages;
	__s64 pgtables_bytes;
	__s32 fds[2]; /* socketpair, pipe2 */
	/* clone family: the new process, from its fork (the return value is
	 * the caller's pid namespace's number, which may not be spawntrace's) */
	__u32 child_pid;
	__u32 host_child_pid;
};

struct syscall_exec_event {
	struct syscall_event sc;
	struct exec_strings x;
};

struct syscall_spawn_event {
	struct syscall_event sc;
	__u32 ustack_len; /* bytes of ustack[] in use */
	__u32 pad;
	/* The spawning thread's user stack, leaf first, as (build ID, file
	 * offset) so that it can be named after the spawner has exited (as
	 * CPU samples' are); bare addresses under EVF_USTACK_IPS. */
	struct bpf_stack_build_id ustack[SPAWN_STACK_DEPTH];
};

/* Bits of stack_copy.flags (-type stack_copy_flag). */
enum stack_copy_flag {
	STACKF_AT_CAP = 1,     /* the copy stopped at STACK_COPY_MAX, below the stack's top (or its top is unknown: a thread) */
	STACKF_UNREADABLE = 2, /* a page of the stack could not be read: the copy ends there */
	STACKF_CODE32 = 4,     /* the thread ran 32-bit code (cs = __USER32_CS): eip, esp, ebp... in ip, sp, bp; 4-byte stack words */
};

/* A spawner's user registers and the bytes of its stack from sp up, for
 * unwinding by CFI in user space. Sent just before its EV_SYSCALL_SPAWN
 * (same ts_ns and tid), len bytes of stack[] long: most stacks need a few
 * KB of STACK_COPY_MAX. */
struct stack_copy {
	__u32 kind;  /* EV_STACK_COPY */
	__u32 flags; /* STACKF_* */
	__u64 ts_ns; /* the spawn call's entry, as its EV_SYSCALL_SPAWN's */
	__u32 tid;   /* as its EV_SYSCALL_SPAWN's header */
	__u32 len;   /* bytes of stack[] in the record */
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u64 di; /* glibc's vfork keeps its return address in rdi across the syscall */
	__u64 cx; /* i386 glibc's vfork keeps it in ecx */
	__u8 stack[STACK_COPY_MAX];
};

/* Bits of sample.flags (-type sample_flag). */
enum sample_flag {
	SAMPLEF_USTACK_IPS = 1, /* ustack holds bare addresses (__u64 each): the kernel gave no build IDs */
};

struct sample {
	__u32 kind; /* EV_SAMPLE */
	__u32 pid;
	__u32 tid;
	__u32 cpu;
	__u64 ts_ns;
	__s32 kstack_len; /* bytes in use, or a negative errno */
	__s32 ustack_len;
	__u32 flags; /* SAMPLEF_* */
	__u32 pad;
	char comm[COMM_LEN];
	__u64 kstack[SAMPLE_STACK_DEPTH];
	/* User frames as (build ID, file offset), so that they can be named
	 * after the process has exited; a frame the kernel could not place in
	 * a file with a build ID has status BPF_STACK_BUILD_ID_IP and its
	 * address instead. */
	struct bpf_stack_build_id ustack[SAMPLE_STACK_DEPTH];
};

#endif
