//go:build ignore

/* spawntrace kernel side: follows one process tree, aggregates every syscall
 * of it in the kernel and sends one detailed event per spawn-related call. */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "kernel_types.h"
#include "spawntrace.h"
#include "sysno.h" /* NR_* and NR32_*: generated from the kernel's tables (tracer/sysno) */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set before load. launcher_tgid is spawntrace itself, as its own pid
 * namespace numbers it (getpid()): its first child process (the workload)
 * is tracked from birth, in the pending state. pidns_dev and pidns_ino
 * name that namespace (stat of /proc/self/ns/pid). */
const volatile __u32 launcher_tgid = 0;
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;
/* Set before load when spawntrace's pid namespace is not the initial one
 * (a container): records then carry ids at its level, and the host's
 * beside them. Otherwise the two are the same and none of it runs. */
const volatile __u32 pidns_nested = 0;
/* That namespace's level (0: the initial one), set by resolve_pids from
 * spawntrace's own task before anything is attached. */
__u32 pidns_level = 0;
/* Set before load by --spawns-only: count and time only the spawn-related
 * calls, as strace -c -e trace=clone,clone3,fork,vfork,execve,execveat,socketpair,pipe2
 * would; every other syscall returns from the programs at once. */
const volatile __u32 spawns_only = 0;
/* Set before load when --spawns-only runs on the spawn calls' own syscall
 * tracepoints (spawn_call_enter, spawn_call_exit): then no other syscall
 * runs a program. Those tracepoints never fire for a 32-bit (compat) call,
 * so the raw pair is attached too once the tree makes one (compat_path),
 * and then takes those calls alone. */
const volatile __u32 spawn_tracepoints = 0;
/* Set before load when the run shows the syscall table alone (-c): then
 * nothing reads the spawn calls' records or what an exec record says of
 * the new program, only the table, the fork and exit records (counted)
 * and the exec records (counted, and the first of a 32-bit program
 * attaches the compat path). A spawn call is then timed into the table
 * as any other call is, without a spawn slot, a user stack or strings. */
const volatile __u32 table_only = 0;
/* Set before load where the raw pair's _again programs are attached (the
 * kernel may preempt a tracepoint program): only then do raw_enter and
 * raw_exit mark what they ran for (~10 ns a syscall of the machine), and
 * the table's counts add atomically (stat_add). */
const volatile __u32 again_programs = 0;
/* Set before load where the kernel has no task storage maps or no
 * bpf_get_current_task_btf (both 5.11; or --force-fallback task-storage):
 * each thread's syscall in progress then lives in a hash keyed by tid (see
 * struct inflight), the current task is read through bpf_get_current_task
 * and its fields by bpf_probe_read_kernel. The verifier prunes the other way. */
const volatile __u32 no_task_storage = 0;

#define CLONE_THREAD_FLAG 0x00010000
#define CLONE_VM_FLAG 0x00000100

/* tracked: tgid -> state, and the process's pid in spawntrace's namespace
 * (what user space can signal). PENDING is the workload between its birth
 * and its first execve: strace starts there too, so its pre-exec setup is
 * not counted. */
#define TRACK_ACTIVE 1
#define TRACK_PENDING 2

struct tracked_proc {
	__u32 ns_pid;
	__u32 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct tracked_proc);
} tracked SEC(".maps");

/* For -p inside a pid namespace: user space puts the pids it read in its
 * /proc, resolve_pids fills in each one's host tgid, the tracked map's key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} resolve SEC(".maps");

/* The switches user space flips while the tree runs are globals, which it
 * writes through the mapped .bss: a bpf() map update holds the CPU's
 * bpf_prog_active while it runs, and where the kernel preempts it there
 * (7.x) every perf-event tracepoint program on that CPU (the spawn calls'
 * under --spawns-only) is skipped meanwhile: 5 of 12 runs of 7.3's matrix
 * lost an execve's exit so, to DisarmLaunch's update. */

/* 1 while spawntrace is starting the workload. */
volatile __u32 launch_armed = 0;

/* 1 once a task of the tree may lack its syscall slot
 * (inflight): processes -p tracks were running before, and a slot that
 * could not be made at a fork. Until then, with task storage, a task
 * without a slot is not of the tree, and its syscalls return at once,
 * without the tracked hash's lookup. */
volatile __u32 tree_unmarked = 0;

/* all_marked says whether every task of the tree has its slot: see
 * tree_unmarked (the hash of no_task_storage is made at first use). */
static __always_inline bool all_marked(void)
{
	if (no_task_storage)
		return false;
	return !tree_unmarked;
}

/* Under spawn_tracepoints: 1 once user space has attached the raw pair
 * for the tree's 32-bit calls. Until then a 64-bit execve that loads a
 * 32-bit program is ended at its exec. */
volatile __u32 compat_path = 0;

/* compat_path_missing says whether the tree's 32-bit calls go unseen now:
 * on the spawn calls' tracepoints, before the raw pair is attached. */
static __always_inline bool compat_path_missing(void)
{
	if (!spawn_tracepoints)
		return false;
	return !compat_path;
}

/* Made only for tasks of the traced tree: having one says the task is traced. */
struct inflight {
	__u64 ts_ns;  /* the call's entry, when it is timed (else 0) */
	__u32 key;    /* the call's syscall_stats index (the table's half, then nr) */
	__u8 entered; /* in a syscall whose entry was seen: its exit counts it */
	__u8 timing;  /* TIMED_ALL, TIMED_SAMPLE, or 0: not timed (see call_timing) */
	__u8 spawn;   /* a spawn-related call: it has a spawn slot */
	__u8 pending; /* made at fork for a task of a pending process (TRACK_PENDING) */
};

/* Each thread's syscall in progress, for the per-syscall totals: task-local
 * storage, a pointer away from the task, where a hash keyed by tid cost a
 * locked update, a lookup and a delete on every syscall. It goes with the
 * task, so a thread that execs (and takes the leader's tid) keeps it, and
 * exit_group's entry, which never returns, needs no clean-up. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* What inflight is made as where the kernel has no task storage
 * (no_task_storage): user space creates this spec under inflight's name, and
 * never this map itself. An entry lives from the thread's first traced
 * syscall to its exit (on_exit deletes it, and on_exec moves it when a
 * thread takes the leader's tid), so each syscall costs a lookup, not the
 * update and delete of an entry per call. Preallocated: tracing programs
 * must not allocate. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight_by_tid SEC(".maps");

struct spawn_slot {
	__u64 ts_ns;
	__u64 nr; /* the call's x86_64 number, whichever table it went through */
	__u64 args[6];
	struct clone3_args c3;
	/* anatomy, filled by the lock, switch and fork probes meanwhile */
	__u64 lock_start_ns; /* a timed mmap lock hold in progress */
	__u64 lock_mm;       /* ... on this mm */
	__u64 exec_old_mm;   /* execve: the address space being replaced */
	__u64 offcpu_start_ns;
	__u64 copy_ns;
	__u64 lock_offcpu_ns; /* off CPU during the current timed lock hold */
	__u64 copy_offcpu_ns;
	__u64 lock_stall_ns;
	__u64 blocked_ns;
	__u64 teardown_ns;
	__s64 rss_anon_pages;
	__s64 rss_file_pages;
	__s64 rss_shmem_pages;
	__s64 pgtables_bytes;
	__u32 map_count;
	__u32 parent_mm_set;
	__u32 lock_timed; /* counted in timed_slots */
	__u32 sys_nr;     /* the number the caller used, in its table */
	__u32 compat;     /* ... the i386 table */
	/* clone family: the new process, set by its fork (in spawntrace's
	 * namespace and the host's): the return value is the caller's
	 * namespace's, another one's when the workload made its own. */
	__u32 child_pid;
	__u32 host_child_pid;
	__u32 ns_tid; /* exec, nested: the caller's tid before exec */
};

/* tid -> the spawn-related syscall it is in, with its arguments. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct spawn_slot);
} spawn_slots SEC(".maps");

/* How many open slots may time an mmap lock hold (fork-like copies, and
 * execs tearing a copy down). The lock tracepoints fire on every mmap
 * lock of the machine; while this is 0 they return at once instead of
 * looking the thread up. */
__u64 timed_slots = 0;
/* How many spawn slots are open at all: sched_switch fires on every
 * context switch of the machine and returns at once while this is 0. */
__u64 open_slots = 0;

/* close_slot ends the thread's spawn slot, if it has one. */
static __always_inline void close_slot(__u32 tid)
{
	struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &tid);
	if (!slot)
		return;
	if (slot->lock_timed)
		__sync_fetch_and_add(&timed_slots, -1);
	__sync_fetch_and_add(&open_slots, -1);
	bpf_map_delete_elem(&spawn_slots, &tid);
}

/* mm -> the other threads waiting for its lock while a fork copies it:
 * how many, and the sum of when each started, so that at the release the
 * stall the copy caused is waiters * now - sum. (A waiter acquires only
 * after the release, too late to charge the fork itself.) */
struct lock_waiters {
	__u64 n;
	__u64 sum_start_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct lock_waiters);
} forking_mm SEC(".maps");

/* Processes (tgid) whose spawn stack or CPU sample of bare addresses has
 * already woken the reader since their last exec. User space reads a process's memory map
 * once, at the first such record, and names every later address of that
 * program from it: only that first record must reach it while the process
 * lives. Cleared at exec and exit; LRU, so a full map costs a wake-up,
 * never a stack. The value is that record's time (ns): a map user space
 * reads late, for a spawn at T, is the program of T only while the entry
 * is there and no later than T (tracer.Tracer.SameProgram). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} announced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SYSCALLS *SYSCALL_TABLES); /* x86_64's numbers, then i386's */
	__type(key, __u32);
	__type(value, struct syscall_stat);
} syscall_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_KINDS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Room to count the entries of a new program's PATH (its value is never
 * sent), read a piece at a time: one per CPU, as no record has space for
 * it. */
#define PATH_VALUE_LEN 4096
/* The kernel refuses an exec whose environment holds a longer string
 * (MAX_ARG_STRLEN: 32 pages of 4 KiB), so no PATH's value is longer. */
#define PATH_MAX_BYTES (32 * 4096)
struct path_value {
	char s[PATH_VALUE_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_value);
} path_scratch SEC(".maps");

/* Size set from user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

/* Forces bpf2go to emit the Go types of these structs and enums: a type
 * no variable refers to is not in the object's BTF. */
const struct syscall_event *unused_syscall __attribute__((unused));
const struct syscall_exec_event *unused_syscall_exec __attribute__((unused));
const struct syscall_spawn_event *unused_syscall_spawn __attribute__((unused));
const struct fork_event *unused_fork __attribute__((unused));
const struct exec_event *unused_exec __attribute__((unused));
const struct exit_event *unused_exit __attribute__((unused));
const struct syscall_stat *unused_stat __attribute__((unused));
const struct sample *unused_sample __attribute__((unused));
const enum event_kind *unused_event_kind __attribute__((unused));
const enum event_flag *unused_event_flag __attribute__((unused));
const enum sample_flag *unused_sample_flag __attribute__((unused));
const enum lost_kind *unused_lost_kind __attribute__((unused));
const enum socketcall_pseudo *unused_socketcall_pseudo __attribute__((unused));
_Static_assert(SOCKETCALL_PSEUDO_RECV < MAX_SYSCALLS, "socketcall pseudo numbers past syscall_stats' i386 half");

/* ns_nr is a task's id in spawntrace's pid namespace: the number at that
 * level of its struct pid. Every task of the traced tree is visible there
 * (descendants of spawntrace, or of a process it sees: a pid namespace
 * can only nest below its creator's), so the namespace itself is checked
 * only where tasks of the whole machine are looked at (check_ns). 0 when
 * the task is not visible there. */
static __always_inline __u32 ns_nr(struct task_struct *task, bool check_ns)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	__u32 level = pidns_level;
	if (!pid || BPF_CORE_READ(pid, level) < level || level >= 64)
		return 0;
	if (check_ns && BPF_CORE_READ(pid, numbers[level].ns, ns.inum) != pidns_ino)
		return 0;
	return BPF_CORE_READ(pid, numbers[level].nr);
}

static __always_inline __u32 ns_tgid(struct task_struct *task)
{
	return ns_nr(BPF_CORE_READ(task, group_leader), false);
}

static __always_inline void count_lost(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &kind);
	if (n)
		*n += 1;
}

/* Is this syscall of the traced tree? A pending workload becomes active at
 * its first execve, whichever program sees that call first. */
static __always_inline bool traced(__u32 tgid, long nr)
{
	struct tracked_proc *t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return false;
	if (t->state == TRACK_ACTIVE)
		return true;
	if (nr == NR_EXECVE || nr == NR_EXECVEAT) {
		t->state = TRACK_ACTIVE;
		return true;
	}
	return false;
}

/* current_task is the running task: a BTF pointer, whose fields the
 * programs may load directly, or where the kernel cannot give one
 * (no_task_storage) a plain address, to be read through BPF_CORE_READ. */
static __always_inline struct task_struct *current_task(void)
{
	if (no_task_storage)
		return (struct task_struct *)bpf_get_current_task();
	return bpf_get_current_task_btf();
}

/* inflight_get is the thread's syscall slot, made when create is set and
 * it has none; NULL when it has none (or none could be made). */
static __always_inline struct inflight *inflight_get(struct task_struct *task, bool create)
{
	if (!no_task_storage)
		return bpf_task_storage_get(&inflight, task, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	if (in || !create)
		return in;
	struct inflight none = {};
	if (bpf_map_update_elem(&inflight, &tid, &none, BPF_NOEXIST))
		return NULL;
	return bpf_map_lookup_elem(&inflight, &tid);
}

/* inflight_moved follows a thread whose exec gave it the leader's tid: the
 * hash's slot is keyed by the tid (task storage moves with the task). */
static __always_inline void inflight_moved(__u32 old_tid, __u32 tid)
{
	if (!no_task_storage)
		return;
	struct inflight *in = bpf_map_lookup_elem(&inflight, &old_tid);
	if (!in)
		return;
	bpf_map_update_elem(&inflight, &tid, in, BPF_ANY);
	bpf_map_delete_elem(&inflight, &old_tid);
}

/* inflight_exited drops an exiting thread's slot from the hash. */
static __always_inline void inflight_exited(__u32 tid)
{
	if (no_task_storage)
		bpf_map_delete_elem(&inflight, &tid);
}

/* ---- 32-bit (compat) syscalls ----
 * A compat syscall's number is of the i386 table, where 2 is fork and 11
 * execve (x86_64's open and munmap). The kernel marks the task while it is
 * in one: x86's in_ia32_syscall(), thread_info.status & TS_COMPAT, set at
 * the entry of every compat syscall (int $0x80, sysenter, a 32-bit
 * program's syscall) and cleared on the return to user mode, so it holds
 * at sys_enter and sys_exit alike; a task's thread_info is its first
 * member, one load away. */

static __always_inline bool is_compat(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->thread_info.status))
		return false;
	if (no_task_storage)
		return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
	return task->thread_info.status & TS_COMPAT;
}

/* The i386 number of each call socketcall(call, args) makes, by call (0
 * past the last). A table rather than a switch: the verifier follows each
 * case of a switch through the rest of the program, a constant it then
 * branches on, ~20 paths that made raw_enter's verification the longest
 * of spawntrace's start-up; a load from the table is one path for all. */
static const __u16 socketcall_calls[SOCKETCALL_SENDMMSG + 1] = {
        [SOCKETCALL_SOCKET] = NR32_SOCKET,
        [SOCKETCALL_BIND] = NR32_BIND,
        [SOCKETCALL_CONNECT] = NR32_CONNECT,
        [SOCKETCALL_LISTEN] = NR32_LISTEN,
        [SOCKETCALL_ACCEPT] = SOCKETCALL_PSEUDO_ACCEPT,
        [SOCKETCALL_GETSOCKNAME] = NR32_GETSOCKNAME,
        [SOCKETCALL_GETPEERNAME] = NR32_GETPEERNAME,
        [SOCKETCALL_SOCKETPAIR] = NR32_SOCKETPAIR,
        [SOCKETCALL_SEND] = SOCKETCALL_PSEUDO_SEND,
        [SOCKETCALL_RECV] = SOCKETCALL_PSEUDO_RECV,
        [SOCKETCALL_SENDTO] = NR32_SENDTO,
        [SOCKETCALL_RECVFROM] = NR32_RECVFROM,
        [SOCKETCALL_SHUTDOWN] = NR32_SHUTDOWN,
        [SOCKETCALL_SETSOCKOPT] = NR32_SETSOCKOPT,
        [SOCKETCALL_GETSOCKOPT] = NR32_GETSOCKOPT,
        [SOCKETCALL_SENDMSG] = NR32_SENDMSG,
        [SOCKETCALL_RECVMSG] = NR32_RECVMSG,
        [SOCKETCALL_ACCEPT4] = NR32_ACCEPT4,
        [SOCKETCALL_RECVMMSG] = NR32_RECVMMSG,
        [SOCKETCALL_SENDMMSG] = NR32_SENDMMSG,
};

/* socketcall_nr is the i386 number of the call socketcall(call, args)
 * makes: i386's one entry to the socket calls, which 32-bit glibc 2.36
 * still uses (socketpair among them), and which strace names and counts by
 * the call it makes. Read only for a compat socketcall. */
static __always_inline long socketcall_nr(void *regs)
{
	__u32 call = BPF_CORE_READ((struct pt_regs___kernel *)regs, bx);
	if (call > SOCKETCALL_SENDMMSG || !socketcall_calls[call])
		return NR32_SOCKETCALL;
	return socketcall_calls[call];
}

/* The x86_64 number of each i386 call this program treats specially, by
 * i386 number (0 for the others), a table for socketcall_calls' reason. */
static const __u16 compat_calls[MAX_SYSCALLS] = {
        [NR32_FORK] = NR_FORK,
        [NR32_EXECVE] = NR_EXECVE,
        [NR32_CLONE] = NR_CLONE,
        [NR32_VFORK] = NR_VFORK,
        [NR32_EXECVEAT] = NR_EXECVEAT,
        [NR32_SOCKETPAIR] = NR_SOCKETPAIR,
        [NR32_PIPE2] = NR_PIPE2,
        [NR32_CLONE3] = NR_CLONE3,
};

/* call_nr is the x86_64 number of the call a syscall makes, for the calls
 * this program treats specially; -1 for the other compat calls. */
static __always_inline long call_nr(long nr, bool compat)
{
	if (!compat)
		return nr;
	if ((__u64)nr >= MAX_SYSCALLS || !compat_calls[nr])
		return -1;
	return compat_calls[nr];
}

/* ---- spawn-related syscalls: one detailed event each ---- */

static __always_inline bool is_clone_nr(__u64 nr)
{
	return nr == NR_CLONE || nr == NR_CLONE3 || nr == NR_FORK || nr == NR_VFORK;
}

static __always_inline bool is_spawn_nr(long nr)
{
	return nr == NR_CLONE || nr == NR_CLONE3 || nr == NR_FORK || nr == NR_VFORK ||
	       nr == NR_EXECVE || nr == NR_EXECVEAT || nr == NR_SOCKETPAIR || nr == NR_PIPE2;
}

/* spawn_enter opens the slot of a spawn-related call (nr is its x86_64
 * number, sys_nr the caller's): its arguments, read from the caller's
 * registers, as the kernel reads them for the table the call went through. */
static __always_inline void spawn_enter(void *user_regs, __u32 nr, __u32 sys_nr, bool compat, __u64 ts_ns)
{
	struct pt_regs___kernel *regs = user_regs;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct spawn_slot slot = {};
	slot.ts_ns = ts_ns;
	slot.nr = nr;
	slot.sys_nr = sys_nr;
	slot.compat = compat;
	if (compat && BPF_CORE_READ(regs, orig_ax) == NR32_SOCKETCALL) {
		/* socketcall(call, args): the call's arguments are an array of
		 * 32-bit values in the caller's memory */
		__u32 a[4] = {};
		bpf_probe_read_user(a, sizeof(a), (void *)(__u64)(__u32)BPF_CORE_READ(regs, cx));
		for (int i = 0; i < 4; i++)
			slot.args[i] = a[i];
	} else if (compat) {
		/* i386: bx, cx, dx, si, di, bp, 32 bits each (int $0x80 from
		 * 64-bit code leaves the upper halves as they were) */
		slot.args[0] = (__u32)BPF_CORE_READ(regs, bx);
		slot.args[1] = (__u32)BPF_CORE_READ(regs, cx);
		slot.args[2] = (__u32)BPF_CORE_READ(regs, dx);
		slot.args[3] = (__u32)BPF_CORE_READ(regs, si);
		slot.args[4] = (__u32)BPF_CORE_READ(regs, di);
		slot.args[5] = (__u32)BPF_CORE_READ(regs, bp);
	} else {
		slot.args[0] = BPF_CORE_READ(regs, di);
		slot.args[1] = BPF_CORE_READ(regs, si);
		slot.args[2] = BPF_CORE_READ(regs, dx);
		slot.args[3] = BPF_CORE_READ(regs, r10);
		slot.args[4] = BPF_CORE_READ(regs, r8);
		slot.args[5] = BPF_CORE_READ(regs, r9);
	}
	if (nr == NR_CLONE3) {
		/* The caller's struct clone_args is on its stack or heap, readable
		 * now; every version of it holds at least these 64 bytes. */
		if (slot.args[1] >= sizeof(slot.c3))
			bpf_probe_read_user(&slot.c3, sizeof(slot.c3), (void *)slot.args[0]);
	}
	bool exec_teardown = false;
	if (nr == NR_EXECVE || nr == NR_EXECVEAT) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct mm_struct *mm = BPF_CORE_READ(task, mm);
		if (pidns_nested)
			slot.ns_tid = ns_nr(task, false);
		slot.exec_old_mm = (__u64)mm;
		/* Only an address space this task alone uses is torn down by
		 * its exec (a fork()ed child's copy); a vfork child's is its
		 * parent's, and a thread's is its process's. */
		exec_teardown = BPF_CORE_READ(mm, mm_users.counter) == 1;
	}
	__u64 flags = nr == NR_CLONE ? slot.args[0] : (nr == NR_CLONE3 ? slot.c3.flags : 0);
	slot.lock_timed = exec_teardown || (is_clone_nr(nr) && nr != NR_VFORK && !(flags & CLONE_VM_FLAG));
	close_slot(tid); /* one left by a call that never returned */
	/* The call's time starts after this program's own work, which would
	 * otherwise count in every failed exec of a PATH search. */
	slot.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&spawn_slots, &tid, &slot, BPF_ANY)) {
		count_lost(LOST_SPAWN_SLOT);
		return;
	}
	__sync_fetch_and_add(&open_slots, 1);
	if (slot.lock_timed)
		__sync_fetch_and_add(&timed_slots, 1);
}

/* user_ptr reads the i-th pointer of a user array of pointers: 8 bytes
 * each, or 4 for a compat caller's. */
static __always_inline const void *user_ptr(__u64 array, __u32 i, bool compat)
{
	if (compat) {
		__u32 p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), (void *)(array + (__u64)i * 4)))
			return NULL;
		return (const void *)(__u64)p;
	}
	const void *p = NULL;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(array + (__u64)i * 8)))
		return NULL;
	return p;
}

struct argv_ctx {
	struct syscall_exec_event *e;
	__u64 argv;
	bool compat;
};

static long read_one_arg(__u32 i, struct argv_ctx *c)
{
	struct syscall_exec_event *e = c->e;
	const char *arg = user_ptr(c->argv, i, c->compat);
	if (!arg)
		return 1;
	if (i >= MAX_ARGS || e->x.argv_len > ARGV_LEN - ARG_CHUNK) {
		e->sc.h.flags |= EVF_ARGV_TRUNCATED;
		return 1;
	}
	e->x.argc = i + 1;
	long n = bpf_probe_read_user_str(&e->x.argv[e->x.argv_len & (ARGV_LEN - 1)], ARG_CHUNK, arg);
	if (n <= 0)
		return 1;
	if (n == ARG_CHUNK)
		e->sc.h.flags |= EVF_ARGV_TRUNCATED;
	e->x.argv_len += n;
	return 0;
}

struct env_ctx {
	__u64 envp;
	__u32 n;
	bool compat;
};

static long count_one_env(__u32 i, struct env_ctx *c)
{
	if (!user_ptr(c->envp, i, c->compat))
		return 1;
	c->n = i + 1;
	return 0;
}

struct path_ctx {
	__u64 envp;
	__u32 envc;
	bool compat;
	const char *value; /* PATH's value, once found */
	bool unread;       /* a pointer or a string could not be read */
};

/* find_path stops at the environment's PATH=. */
static long find_path(__u32 i, struct path_ctx *c)
{
	if (i >= c->envc)
		return 1;
	const char *kv = user_ptr(c->envp, i, c->compat);
	if (!kv) {
		c->unread = true;
		return 1;
	}
	char head[5];
	if (bpf_probe_read_user(head, sizeof(head), kv)) {
		c->unread = true; /* or shorter than 5 bytes at a page's end */
		return 0;
	}
	if (head[0] == 'P' && head[1] == 'A' && head[2] == 'T' && head[3] == 'H' && head[4] == '=') {
		c->value = kv + 5;
		return 1;
	}
	return 0;
}

struct colon_ctx {
	struct path_value *v;
	const char *next; /* where the next piece of the value starts */
	__u32 pos;        /* in the piece held in v */
	__u32 len;        /* of that piece */
	bool more;        /* the piece filled v: the value may go on */
	bool unread;
	__s32 entries;
};

/* count_colon counts PATH's colons eight bytes at a time, reading the
 * value into v a piece at a time, so that a PATH of any length is counted
 * whole. A piece holds at most PATH_VALUE_LEN - 1 bytes of it (and a NUL).
 * A 128 KiB PATH costs ~0.11 ms per exec, most of it in reading it (a
 * byte at a time, it cost ~0.3 ms). */
static long count_colon(__u32 i, struct colon_ctx *c)
{
	if (c->pos >= c->len) {
		if (!c->more)
			return 1;
		long n = bpf_probe_read_user_str(c->v->s, sizeof(c->v->s), c->next);
		if (n <= 0) {
			c->unread = true;
			return 1;
		}
		c->len = n - 1;
		c->more = n == sizeof(c->v->s);
		c->next += n - 1;
		c->pos = 0;
		if (c->len == 0)
			return 1;
	}
	/* The bytes equal to ':' become zero; the top bit of each byte of z
	 * is then set where x has a zero byte (exactly: no carry crosses a
	 * byte), and the multiply adds the bytes' flags up in the top byte. */
	const __u64 colons = 0x3a3a3a3a3a3a3a3aULL, low7 = 0x7f7f7f7f7f7f7f7fULL;
	__u64 x = *(__u64 *)&c->v->s[c->pos & (PATH_VALUE_LEN - 8)] ^ colons;
	__u64 z = ~(((x & low7) + low7) | x | low7) >> 7;
	__u32 left = c->len - c->pos;
	if (left < 8)
		z &= (1ULL << (8 * left)) - 1; /* past the piece's end: its NUL, or an older piece */
	c->entries += (z * 0x0101010101010101ULL) >> 56;
	c->pos += 8;
	return 0;
}

/* path_entries counts the entries of PATH in the environment a new program
 * got (mm->start_stack points at its argc, then argv[], NULL, envp[]): the
 * directories posix_spawnp and execvp will try in turn. -1 without a PATH,
 * 0 when it could not be read. */
static __always_inline __s32 path_entries(struct mm_struct *mm, __u32 argc, __u32 envc, bool compat)
{
	__u64 width = compat ? 4 : 8;
	struct path_ctx pc = {.envp = BPF_CORE_READ(mm, start_stack) + width * ((__u64)argc + 2), .envc = envc, .compat = compat};
	bpf_loop(1 << 16, find_path, &pc, 0);
	if (!pc.value)
		return pc.unread ? 0 : -1;
	__u32 zero = 0;
	struct path_value *v = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!v)
		return 0;
	struct colon_ctx cc = {.v = v, .next = pc.value, .more = true, .entries = 1};
	bpf_loop(PATH_MAX_BYTES, count_colon, &cc, 0);
	if (cc.unread)
		return 0;
	return cc.entries;
}

/* new_record reserves a ring-buffer record of size bytes (a constant at
 * each call site, as the verifier wants), clears its first clear bytes
 * (ring memory is not zeroed; strings are read only up to their recorded
 * lengths or first NUL, stacks up to theirs) and fills its header for the
 * current task; or counts it lost when the buffer is full. */
static __always_inline void *new_record(__u32 kind, __u64 size, __u64 clear)
{
	struct event_hdr *h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count_lost(LOST_RINGBUF);
		return NULL;
	}
	__builtin_memset(h, 0, clear);
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	h->kind = kind;
	if (pidns_nested) {
		h->host_pid = id >> 32;
		h->tid = ns_nr(task, false);
		h->pid = ns_tgid(task);
		h->ppid = ns_tgid(BPF_CORE_READ(task, real_parent));
	} else {
		h->host_pid = 0;
		h->tid = (__u32)id;
		h->pid = id >> 32;
		h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	}
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	return h;
}

/* A record of kind in struct type, cleared up to its field first_unclear
 * (the whole struct when that is its size). */
#define NEW_RECORD(type, kind, clear) ((struct type *)new_record(kind, sizeof(struct type), clear))
#define CLEAR_TO(type, field) __builtin_offsetof(struct type, field)

/* submit hands a record of size bytes to user space. Waking the reader
 * for every record cost more than the tracing itself (a context switch per
 * event): only urgent records wake it (a process's first spawn or CPU
 * sample whose user stack came as bare addresses, symbolized from its
 * memory map while it lives), or a buffer an eighth full; user space
 * drains the rest every few tens of milliseconds.
 * The kernel's default wakes the reader only when it has read everything
 * before this record; with records waiting that did not wake it, an urgent
 * one must force the wake-up. */
static __always_inline void submit(void *rec, __u64 size, bool urgent)
{
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (urgent)
		flags = waiting > size + 8 ? BPF_RB_FORCE_WAKEUP : 0;
	else if (waiting > bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 8)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(rec, flags);
}

/* spawn_stack_needs_map says whether only the spawner's memory map can
 * name its stack, so that its first such spawn must wake the reader while
 * it lives: the kernel gave bare addresses (no build IDs at all, or it
 * could not take the mmap lock, another thread holding it), or the leaf,
 * the clone call itself, is in a file without a build ID (a Go program).
 * Otherwise none wakes it: a wake-up and map read per spawner doubled the
 * overhead of a make -j2, far more than the build IDs cost. */
static __always_inline bool spawn_stack_needs_map(struct syscall_spawn_event *e)
{
	return (e->sc.h.flags & EVF_USTACK_IPS) || e->ustack[0].status != BPF_STACK_BUILD_ID_VALID;
}

/* fill_syscall copies what the thread's spawn slot holds into e. */
static __always_inline void fill_syscall(struct syscall_event *e, struct spawn_slot *slot, long ret, __u64 now_ns)
{
	e->nr = slot->sys_nr;
	if (slot->compat)
		e->h.flags |= EVF_COMPAT;
	e->h.ts_ns = slot->ts_ns;
	e->dur_ns = now_ns - slot->ts_ns;
	e->ret = ret;
	for (int i = 0; i < 6; i++)
		e->args[i] = slot->args[i];
	e->c3 = slot->c3;
	e->copy_ns = slot->copy_ns;
	e->copy_offcpu_ns = slot->copy_offcpu_ns;
	e->lock_stall_ns = slot->lock_stall_ns;
	e->blocked_ns = slot->blocked_ns;
	e->teardown_ns = slot->teardown_ns;
	e->child_pid = slot->child_pid;
	e->host_child_pid = slot->host_child_pid;
	if (slot->parent_mm_set) {
		e->h.flags |= EVF_PARENT_MM;
		e->rss_anon_pages = slot->rss_anon_pages;
		e->rss_file_pages = slot->rss_file_pages;
		e->rss_shmem_pages = slot->rss_shmem_pages;
		e->pgtables_bytes = slot->pgtables_bytes;
		e->map_count = slot->map_count;
	}
}

/* ---- spawners' stacks for unwinding by CFI (--pprof, -w) ----
 * Code without frame pointers (Debian's glibc) ends bpf_get_stack's walk
 * at _Fork: so, where stacks are asked for, each spawn also sends the
 * caller's user registers and the bytes of its stack above sp, which user
 * space unwinds with each file's .eh_frame while the spawner's memory map
 * is known. Set before load; 0 leaves the default mode without the copy. */
const volatile __u32 stack_copy_on = 0;

/* The record is built here (too large for the BPF stack) and sent with
 * bpf_ringbuf_output for its used length only; a page of slack past
 * stack[] lets the page-wise copy's bounds stay simple. */
struct stack_copy_buf {
	struct stack_copy c;
	__u8 slack[4096];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_copy_buf);
} stack_copy_scratch SEC(".maps");

const struct stack_copy *unused_stack_copy __attribute__((unused));
const enum stack_copy_flag *unused_stack_copy_flag __attribute__((unused));

/* send_stack_copy sends the calling thread's registers and stack bytes
 * for the spawn in slot, ahead of its record; user_regs are the thread's
 * saved user registers (sys_exit's first argument, or bpf_task_pt_regs on
 * the spawn calls' own tracepoints), NULL where there are none to read. The copy goes a
 * page at a time, so that it ends at the first unreadable page (a thread
 * stack's top) rather than fail whole; the main thread's stops at
 * mm->start_stack, above which lie argv and the environment, not frames.
 * A 32-bit program's registers are its pt_regs' low halves, and its mode
 * is the code segment it was in (x86's user_64bit_mode(), inverted): the
 * syscall's table alone (slot->compat) would call a 64-bit program's
 * int $0x80 32-bit code. False when nothing was sent. */
static __always_inline bool send_stack_copy(void *user_regs, struct spawn_slot *slot)
{
	__u32 zero = 0;
	struct stack_copy_buf *buf = bpf_map_lookup_elem(&stack_copy_scratch, &zero);
	struct pt_regs___kernel *regs = user_regs;
	if (!buf || !regs)
		return false;
	struct stack_copy *c = &buf->c;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	c->kind = EV_STACK_COPY;
	c->flags = 0;
	c->ts_ns = slot->ts_ns;
	c->tid = pidns_nested ? ns_nr(task, false) : (__u32)id;
	c->ip = BPF_CORE_READ(regs, ip);
	c->sp = BPF_CORE_READ(regs, sp);
	c->bp = BPF_CORE_READ(regs, bp);
	c->di = BPF_CORE_READ(regs, di);
	c->cx = BPF_CORE_READ(regs, cx);
	if ((BPF_CORE_READ(regs, cs) & 0xffff) == USER32_CS)
		c->flags |= STACKF_CODE32;
	__u64 want = STACK_COPY_MAX;
	if ((__u32)id == id >> 32) {
		/* Unless it runs on another stack (a coroutine's, above). */
		__u64 top = BPF_CORE_READ(task, mm, start_stack);
		if (top > c->sp)
			want = top - c->sp;
	}
	if (want >= STACK_COPY_MAX) {
		want = STACK_COPY_MAX;
		c->flags |= STACKF_AT_CAP;
	}
	__u64 off = 0;
	for (int i = 0; i < STACK_COPY_MAX / 4096 + 1; i++) {
		if (off >= want || off >= STACK_COPY_MAX)
			break;
		__u64 chunk = 4096 - ((c->sp + off) & 4095);
		if (chunk > want - off)
			chunk = want - off;
		/* Else clang drops the test below as implied, and the
		 * verifiers of 5.10 and 6.1 lose that bound on the min above. */
		barrier_var(chunk);
		if (chunk > 4096)
			break;
		if (bpf_probe_read_user(&c->stack[off], chunk, (void *)(c->sp + off))) {
			c->flags = (c->flags & ~STACKF_AT_CAP) | STACKF_UNREADABLE;
			break;
		}
		off += chunk;
	}
	if (off > STACK_COPY_MAX)
		off = STACK_COPY_MAX;
	c->len = off;
	return bpf_ringbuf_output(&events, c, __builtin_offsetof(struct stack_copy, stack) + off, BPF_RB_NO_WAKEUP) == 0;
}

/* send_spawn sends a call that made a new process, in the caller, with
 * the user stack it entered with. */
static __always_inline void send_spawn(void *ctx, void *user_regs, struct spawn_slot *slot, long ret, __u64 now_ns)
{
	/* Before the spawn's own record, so that the reader has it first. */
	bool copied = stack_copy_on && send_stack_copy(user_regs, slot);
	struct syscall_spawn_event *e = NEW_RECORD(syscall_spawn_event, EV_SYSCALL_SPAWN, CLEAR_TO(syscall_spawn_event, ustack));
	if (!e)
		return;
	fill_syscall(&e->sc, slot, ret, now_ns);
	long n = bpf_get_stack(ctx, e->ustack, sizeof(e->ustack), BPF_F_USER_STACK | BPF_F_USER_BUILD_ID);
	if (n < 0) {
		n = bpf_get_stack(ctx, e->ustack, SPAWN_STACK_DEPTH * sizeof(__u64), BPF_F_USER_STACK);
		e->sc.h.flags |= EVF_USTACK_IPS;
	}
	e->ustack_len = n > 0 ? n : 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32; /* the host's: announced's key */
	bool urgent = false;
	/* A stack copy is unwound from the spawner's memory map, too. */
	if ((copied || (e->ustack_len && spawn_stack_needs_map(e))) && !bpf_map_lookup_elem(&announced, &tgid)) {
		__u64 since_ns = slot->ts_ns;
		bpf_map_update_elem(&announced, &tgid, &since_ns, BPF_ANY);
		urgent = true;
	}
	submit(e, sizeof(*e), urgent);
}

/* send_failed_exec sends an exec that failed, with its filename and argv:
 * the kernel's own read has faulted the strings in, which a fork()ed child
 * may not have had mapped at entry. The successful exec's details come
 * from sched_process_exec instead. */
static __always_inline void send_failed_exec(struct spawn_slot *slot, long ret, __u64 now_ns, bool with_loop)
{
	struct syscall_exec_event *e = NEW_RECORD(syscall_exec_event, EV_SYSCALL_EXEC, CLEAR_TO(syscall_exec_event, x.filename));
	if (!e)
		return;
	fill_syscall(&e->sc, slot, ret, now_ns);
	e->x.filename[0] = 0;
	int at = slot->nr == NR_EXECVEAT;
	const char *name = (const char *)(at ? slot->args[1] : slot->args[0]);
	if (bpf_probe_read_user_str(e->x.filename, sizeof(e->x.filename), name) <= 0)
		e->sc.h.flags |= EVF_NAME_UNREAD;
	if (!with_loop) {
		e->sc.h.flags |= EVF_ARGV_UNREAD;
	} else {
		bool compat = slot->compat;
		struct argv_ctx ac = {.e = e, .argv = at ? slot->args[2] : slot->args[1], .compat = compat};
		bpf_loop(MAX_ARGS + 1, read_one_arg, &ac, 0);
		struct env_ctx ec = {.envp = at ? slot->args[3] : slot->args[2], .compat = compat};
		if (ec.envp)
			bpf_loop(1 << 16, count_one_env, &ec, 0);
		e->x.envc = ec.n;
	}
	submit(e, sizeof(*e), false);
}

/* send_syscall sends any other spawn-related call: no strings, no stack. */
static __always_inline void send_syscall(struct spawn_slot *slot, long ret, __u64 now_ns)
{
	struct syscall_event *e = NEW_RECORD(syscall_event, EV_SYSCALL, sizeof(struct syscall_event));
	if (!e)
		return;
	fill_syscall(e, slot, ret, now_ns);
	if (slot->nr == NR_SOCKETPAIR && ret == 0)
		bpf_probe_read_user(e->fds, sizeof(e->fds), (void *)slot->args[3]);
	if (slot->nr == NR_PIPE2 && ret == 0)
		bpf_probe_read_user(e->fds, sizeof(e->fds), (void *)slot->args[0]);
	submit(e, sizeof(*e), false);
}

/* spawn_exit sends the call whose slot the thread holds, in the record of
 * its kind; ctx is the program's, for the caller's user stack, and
 * user_regs the caller's saved registers, for the stack copy. with_loop
 * says whether the program may call bpf_loop (raw_exit_noloop). */
static __always_inline void spawn_exit(void *ctx, void *user_regs, long ret, __u64 now_ns, bool with_loop)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &tid);
	if (!slot)
		return;
	if (slot->lock_mm && is_clone_nr(slot->nr))
		bpf_map_delete_elem(&forking_mm, &slot->lock_mm);
	__u64 flags = slot->nr == NR_CLONE ? slot->args[0] : (slot->nr == NR_CLONE3 ? slot->c3.flags : 0);
	if (is_clone_nr(slot->nr) && ret > 0 && !(flags & CLONE_THREAD_FLAG))
		send_spawn(ctx, user_regs, slot, ret, now_ns); /* threads and failed calls are not spawns */
	else if ((slot->nr == NR_EXECVE || slot->nr == NR_EXECVEAT) && ret != 0)
		send_failed_exec(slot, ret, now_ns, with_loop);
	else
		send_syscall(slot, ret, now_ns);
	close_slot(tid);
}

/* ---- every syscall of the tree: one raw tracepoint pair ----
 * Calls, errors and wall time of every syscall are summed here; the
 * spawn-related ones also get a detailed event. Raw (tp_btf) tracepoints,
 * not the perf-event kind and not one pair per syscall: the kernel calls
 * them without filling a trace record, and detaching one does not wait
 * for an RCU grace period, as each perf-event tracepoint does. */

/* Each tracepoint is served twice, by a program and its _again copy
 * attached after it: the kernel skips a program on a CPU where another
 * task is inside it (prog->active), and 7.x runs tracepoint programs with
 * only migration disabled (6.18 disabled preemption), so a task preempted
 * in raw_exit (a parent sending its fork, say, when the child it woke
 * takes the CPU) made the kernel skip raw_exit for every other task on
 * that CPU until it ran again: the fork child's first calls went
 * uncounted, and nothing said so. A second
 * program has a count of its own: both are held at once only when two
 * tasks on one CPU are preempted, one inside each.
 * raw_enter and raw_exit mark, per CPU and first thing, the task they
 * run for, so that the _again program returns at once when the first ran
 * (one load, where the rest of the machine would pay a lookup more per
 * syscall). A mark cannot be stale when the first was skipped: the task
 * inside it marked the CPU after. Where the task moved to another CPU in
 * between, the work is done again, harmlessly: an entry is written again,
 * and an exit is taken by whichever program comes first (in->entered).
 * The lifecycle and mmap_lock tracepoints have second programs too, which
 * return on such marks of their own (seen_kind). */
enum seen_kind {
	SEEN_ENTER = 0,
	SEEN_EXIT = 1,
	SEEN_FORK = 2,
	SEEN_EXEC = 3,
	SEEN_PROCESS_EXIT = 4,
	SEEN_LOCK_START = 5,
	SEEN_LOCK_ACQUIRED = 6,
	SEEN_LOCK_RELEASED = 7,
	SEEN_KINDS = 8,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SEEN_KINDS);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

/* How often each second program found no mark of its first, which the
 * kernel skipped: user space takes these from the first's skips
 * (recursion_misses), and what remains is what both skipped, lost. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SEEN_KINDS);
	__type(key, __u32);
	__type(value, __u64);
} made_up SEC(".maps");

const enum seen_kind *unused_seen_kind __attribute__((unused));

/* Set by user space where the second programs are loaded: the mmap_lock
 * programs, which run on every mmap lock of the machine, mark the CPU for
 * them only then. */
const volatile __u32 again_loaded = 0;

/* mark_seen says, on this CPU, that the first program of kind runs for
 * the current task. */
static __always_inline void mark_seen(__u32 kind)
{
	__u64 *mark = bpf_map_lookup_elem(&seen, &kind);
	if (mark)
		*mark = bpf_get_current_pid_tgid();
}

/* was_seen says whether the first program of kind ran for the current
 * task on this CPU, and clears the mark; where it did not, the second
 * makes up for it, counted in made_up. */
static __always_inline bool was_seen(__u32 kind)
{
	__u64 *mark = bpf_map_lookup_elem(&seen, &kind);
	if (mark && *mark == bpf_get_current_pid_tgid()) {
		*mark = 0;
		return true;
	}
	__u64 *n = bpf_map_lookup_elem(&made_up, &kind);
	if (n)
		*n += 1;
	return false;
}

#define TIMED_ALL 1
#define TIMED_SAMPLE 2

/* call_timing says whether to time this call of syscall_stats' key on
 * this CPU: TIMED_ALL (one of its first calls), TIMED_SAMPLE, or 0. The two
 * clock reads are most of what a syscall of the tree costs beyond the
 * kernel's floor (README, overhead): a number's first calls are timed,
 * then a random one in TIME_SAMPLE_EVERY, which keeps the time columns
 * close where the calls are many, while calls and errors stay exact.
 * Random, not every 8th: a loop whose calls of one number alternate (a
 * read that fills, one that finds nothing) would be sampled in phase. */
static __always_inline __u8 call_timing(__u32 key)
{
	if (key >= MAX_SYSCALLS * SYSCALL_TABLES)
		return 0;
	struct syscall_stat *st = bpf_map_lookup_elem(&syscall_stats, &key);
	if (!st || st->calls < EXACT_TIMED_CALLS)
		return TIMED_ALL;
	__u32 x = st->sample_rng;
	if (!x)
		x = bpf_get_prandom_u32() | 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	st->sample_rng = x;
	return x % TIME_SAMPLE_EVERY ? 0 : TIMED_SAMPLE;
}

/* sys_enter_common times a syscall of the tree: nr in the caller's table,
 * call its x86_64 number for the calls treated specially; regs are the
 * caller's, for a spawn call's arguments. */
static __always_inline int sys_enter_common(struct task_struct *task, void *regs, long nr, long call, bool compat)
{
	/* A task with a slot is of the tree: one lookup a pointer away from
	 * the task, where the tracked hash costs a hash of the tgid on every
	 * syscall. Tasks of the tree get their slot at their fork (or, when
	 * that could not be, or -p's running processes, at their first traced
	 * syscall); the rest of the machine has none and returns here. A
	 * pending process's tasks are traced from its first execve. */
	struct inflight *in = inflight_get(task, false);
	if (!in) {
		if (all_marked())
			return 0; /* not of the tree: its tasks get their slot at fork */
		__u64 id = bpf_get_current_pid_tgid();
		if (!traced(id >> 32, call))
			return 0;
		in = inflight_get(task, true);
		if (!in) {
			count_lost(LOST_INFLIGHT);
			return 0;
		}
	} else if (in->pending) {
		__u64 id = bpf_get_current_pid_tgid();
		if (!traced(id >> 32, call))
			return 0;
		in->pending = 0;
	}
	/* Numbers out of range (-1 for a call a tracer or seccomp skipped)
	 * are not counted. */
	__u32 key = (__u64)nr < MAX_SYSCALLS ? nr + (compat ? MAX_SYSCALLS : 0) : MAX_SYSCALLS * SYSCALL_TABLES;
	in->key = key;
	in->entered = 1;
	bool spawn = is_spawn_nr(call);
	in->spawn = spawn && !table_only;
	in->timing = spawn ? TIMED_ALL : call_timing(key); /* a spawn call's record has its time */
	in->ts_ns = in->timing ? bpf_ktime_get_ns() : 0;
	if (in->spawn)
		spawn_enter(regs, call, nr, compat, in->ts_ns);
	return 0;
}

static __always_inline int sys_enter(void *regs, long nr)
{
	struct task_struct *task = current_task();
	bool compat = is_compat(task);
	/* Beside the spawn calls' own tracepoints the raw pair is there for
	 * the 32-bit calls alone, which those never see. */
	if (spawn_tracepoints && !compat)
		return 0;
	if (compat && nr == NR32_SOCKETCALL)
		nr = socketcall_nr(regs);
	long call = call_nr(nr, compat);
	if (spawns_only && !is_spawn_nr(call))
		return 0;
	return sys_enter_common(task, regs, nr, call, compat);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(raw_enter, void *regs, long nr)
{
	if (again_programs) /* raw_enter_again is loaded */
		mark_seen(SEEN_ENTER);
	return sys_enter(regs, nr);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(raw_enter_again, void *regs, long nr)
{
	if (was_seen(SEEN_ENTER))
		return 0;
	return sys_enter(regs, nr);
}

/* stat_add adds v to a count of syscall_stats. Atomically where the kernel
 * runs tracepoint programs preemptibly (6.19+, again_programs): though the
 * map is per CPU, a task preempted between a read and its write there let
 * another task's exit on the same CPU (through the second program) add in
 * between, and one of the two calls was lost (7.3's matrix: a
 * set_robust_list, an execve short of strace's). Elsewhere the kernel runs
 * the program with preemption off, and a plain add is as exact and ~5 ns
 * a syscall cheaper (the lock prefix of each add). */
static __always_inline void stat_add(__u64 *count, __u64 v)
{
	if (again_programs)
		__sync_fetch_and_add(count, v);
	else
		*count += v;
}

/* sys_exit_common ends the task's timed syscall: into the table, and a
 * spawn-related one out as its record. The child's half of clone/vfork
 * runs in a new task with no entry, so a spawn is counted once, in the
 * caller, as strace counts it. What the call was is what its entry saw:
 * an execve that loads a 32-bit program returns with TS_COMPAT set and
 * orig_ax the i386 execve. */
static __always_inline int sys_exit_common(void *ctx, void *user_regs, struct task_struct *task, long ret, bool with_loop)
{
	struct inflight *in = inflight_get(task, false);
	if (!in || !in->entered)
		return 0;
	in->entered = 0;
	__u32 key = in->key;
	__u64 dur = 0;
	if (in->ts_ns) {
		__u64 now_ns = bpf_ktime_get_ns();
		dur = now_ns - in->ts_ns;
		in->ts_ns = 0;
		if (in->spawn)
			spawn_exit(ctx, user_regs, ret, now_ns, with_loop);
	}
	if (key >= MAX_SYSCALLS * SYSCALL_TABLES)
		return 0;
	struct syscall_stat *st = bpf_map_lookup_elem(&syscall_stats, &key);
	if (!st)
		return 0;
	stat_add(&st->calls, 1);
	if (in->timing == TIMED_ALL) {
		stat_add(&st->timed_calls, 1);
		stat_add(&st->time_ns, dur);
	} else if (in->timing == TIMED_SAMPLE) {
		stat_add(&st->sampled_calls, 1);
		stat_add(&st->sampled_ns, dur);
	}
	if (ret < 0 && ret >= -4095)
		stat_add(&st->errors, 1);
	return 0;
}

static __always_inline int sys_exit(void *ctx, void *regs, long ret, bool with_loop)
{
	struct task_struct *task = current_task();
	if (spawns_only) {
		long nr = BPF_CORE_READ((struct pt_regs___kernel *)regs, orig_ax);
		bool compat = is_compat(task);
		if (spawn_tracepoints && !compat)
			return 0;
		if (compat && nr == NR32_SOCKETCALL)
			nr = socketcall_nr(regs);
		if (!is_spawn_nr(call_nr(nr, compat)))
			return 0;
	}
	return sys_exit_common(ctx, regs, task, ret, with_loop);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_exit, void *regs, long ret)
{
	if (again_programs) /* raw_exit_again is loaded */
		mark_seen(SEEN_EXIT);
	return sys_exit(ctx, regs, ret, true);
}

/* raw_exit where the kernel has no bpf_loop (before 5.17), or
 * --disable-probe helper:bpf_loop asks: failed execs go without argv and
 * envp. A program of its own, not a const volatile switch: before 5.13 the
 * verifier refuses any program that refers to a callback, called or not
 * ("number of funcs in func_info doesn't match number of subprogs"). */
SEC("tp_btf/sys_exit")
int BPF_PROG(raw_exit_noloop, void *regs, long ret)
{
	if (again_programs) /* raw_exit_again is loaded */
		mark_seen(SEEN_EXIT);
	return sys_exit(ctx, regs, ret, false);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_exit_again, void *regs, long ret)
{
	if (was_seen(SEEN_EXIT))
		return 0;
	return sys_exit(ctx, regs, ret, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_exit_again_noloop, void *regs, long ret)
{
	if (was_seen(SEEN_EXIT))
		return 0;
	return sys_exit(ctx, regs, ret, false);
}

/* ---- --spawns-only: the spawn calls' own syscall tracepoints ----
 * Attached to syscalls:sys_enter_X and sys_exit_X of clone, clone3, fork,
 * vfork, execve, execveat, socketpair and pipe2 only, so that no other
 * syscall runs a program (the kernel tests a bit of its own and returns).
 * They have no _again copies: the kernel runs a perf event's programs
 * only while no task on the CPU holds its one count of them
 * (bpf_prog_active), so a second would be skipped with the first. Where
 * the kernel preempts tasks inside BPF programs (7.x) the raw pair is
 * taken instead (tracer, skippedPerfPrograms). They never see a compat
 * (i386-table) call: the raw pair takes those (spawn_tracepoints,
 * compat_path). Loaded on 5.15+ only (perf-event links,
 * bpf_task_pt_regs). */

/* The records of syscalls:sys_enter_* and sys_exit_* (their format files). */
struct syscall_enter_record {
	__u64 common;
	int nr;
};

struct syscall_exit_record {
	__u64 common;
	int nr;
	__u32 pad;
	long ret;
};

SEC("tracepoint/syscalls/sys_enter_spawn")
int spawn_call_enter(struct syscall_enter_record *ctx)
{
	/* The arguments from the caller's registers, as the raw pair reads
	 * them: the kernel refuses a program that reads past the record of
	 * the call with the fewest (fork's has none). */
	void *regs = (void *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = ctx->nr;
	return sys_enter_common(current_task(), regs, nr, nr, false);
}

SEC("tracepoint/syscalls/sys_exit_spawn")
int spawn_call_exit(struct syscall_exit_record *ctx)
{
	return sys_exit_common(ctx, (void *)bpf_task_pt_regs(bpf_get_current_task_btf()), current_task(), ctx->ret, true);
}

/* spawn_call_exit without bpf_loop (as raw_exit_noloop). */
SEC("tracepoint/syscalls/sys_exit_spawn")
int spawn_call_exit_noloop(struct syscall_exit_record *ctx)
{
	return sys_exit_common(ctx, (void *)bpf_task_pt_regs(bpf_get_current_task_btf()), current_task(), ctx->ret, false);
}

/* ---- the process lifecycle ---- */

/* mark_child gives a new task of the tree its syscall slot (see
 * tree_unmarked), pending when its process is. */
static __always_inline void mark_child(struct task_struct *child, bool pending)
{
	if (no_task_storage)
		return;
	struct inflight *in = bpf_task_storage_get(&inflight, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!in) {
		tree_unmarked = 1;
		return;
	}
	in->pending = pending;
}

static __always_inline int fork_seen(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid;
	__u32 ctid = child->pid;
	__u32 ctgid = child->tgid;
	bool thread = ctid != ctgid;
	struct tracked_proc *pt = bpf_map_lookup_elem(&tracked, &ptgid);

	if (!pt) {
		/* spawntrace starting the workload: track it from birth, before
		 * it runs an instruction, but pending until its execve. Every
		 * child of the launcher while armed is pending: Go's runtime may
		 * fork a probe child (CLONE_PIDFD check) that exits unexec'd.
		 * The launcher is known by its pid in its own namespace, the
		 * only one it knows (this program runs in the parent). */
		if (thread || (!pidns_nested && ptgid != launcher_tgid))
			return 0;
		if (!launch_armed)
			return 0;
		struct bpf_pidns_info me = {};
		if (pidns_nested && (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &me, sizeof(me)) || me.tgid != launcher_tgid))
			return 0;
		struct tracked_proc pending = {.ns_pid = pidns_nested ? ns_tgid(child) : ctgid, .state = TRACK_PENDING};
		if (bpf_map_update_elem(&tracked, &ctgid, &pending, BPF_ANY))
			count_lost(LOST_TRACKED);
		mark_child(child, true);
		return 0;
	}
	mark_child(child, pt->state != TRACK_ACTIVE && thread);
	/* The child's ids in spawntrace's pid namespace (the same numbers
	 * unless it runs in another). */
	__u32 ns_ctid = ctid, ns_ctgid = ctgid;
	if (pidns_nested) {
		ns_ctid = ns_nr(child, false);
		ns_ctgid = ns_tgid(child);
	}
	if (!thread) {
		/* The parent's size at the fork, for the cost-against-RSS fit. */
		__u32 ptid = parent->pid;
		struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &ptid);
		struct mm_struct *mm = parent->mm;
		if (slot && mm) {
			if (bpf_core_field_exists(mm->rss_stat[0].count)) {
				slot->rss_anon_pages = BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count);
				slot->rss_file_pages = BPF_CORE_READ(mm, rss_stat[MM_FILEPAGES].count);
				slot->rss_shmem_pages = BPF_CORE_READ(mm, rss_stat[MM_SHMEMPAGES].count);
			} else {
				struct mm_struct___pre62 *old = (void *)mm;
				slot->rss_anon_pages = BPF_CORE_READ(old, rss_stat.count[MM_ANONPAGES].counter);
				slot->rss_file_pages = BPF_CORE_READ(old, rss_stat.count[MM_FILEPAGES].counter);
				slot->rss_shmem_pages = BPF_CORE_READ(old, rss_stat.count[MM_SHMEMPAGES].counter);
			}
			slot->pgtables_bytes = BPF_CORE_READ(mm, pgtables_bytes.counter);
			slot->map_count = BPF_CORE_READ(mm, map_count);
			slot->parent_mm_set = 1;
		}
		/* The spawn call learns its child here, from the kernel, not
		 * from its return value (see struct spawn_slot). */
		if (slot) {
			slot->child_pid = ns_ctgid;
			if (pidns_nested)
				slot->host_child_pid = ctgid;
		}
		struct tracked_proc active = {.ns_pid = ns_ctgid, .state = TRACK_ACTIVE};
		if (bpf_map_update_elem(&tracked, &ctgid, &active, BPF_ANY))
			count_lost(LOST_TRACKED);
	}
	if (pt->state != TRACK_ACTIVE)
		return 0;
	/* A 32-bit clone-family call (TS_COMPAT holds through the call) whose
	 * entry no program saw: the raw pair was not attached yet. Counted,
	 * and the reader woken to attach it. */
	bool compat_unseen = false;
	if (spawn_tracepoints && is_compat(parent)) {
		struct inflight *in = inflight_get(parent, false);
		compat_unseen = !in || !in->entered;
	}
	if (compat_unseen)
		count_lost(LOST_COMPAT);

	struct fork_event *e = NEW_RECORD(fork_event, EV_FORK, sizeof(struct fork_event));
	if (!e)
		return 0;
	e->h.ts_ns = bpf_ktime_get_ns();
	e->child_tid = ns_ctid;
	e->child_pid = ns_ctgid;
	if (pidns_nested)
		e->host_child_pid = ctgid;
	if (thread)
		e->h.flags |= EVF_THREAD;
	if (compat_unseen)
		e->h.flags |= EVF_COMPAT;
	submit(e, sizeof(*e), compat_unseen);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	mark_seen(SEEN_FORK);
	return fork_seen(parent, child);
}

/* on_fork's second program (see seen): a child process on_fork
 * would have followed is in tracked once it ran, and the tracepoint fires
 * before the child is woken, so nothing removes it in between. A new
 * thread is left to on_fork: it is followed with its process, and only
 * its fork record goes when the kernel skipped on_fork. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork_again, struct task_struct *parent, struct task_struct *child)
{
	if (was_seen(SEEN_FORK))
		return 0;
	__u32 ctgid = child->tgid;
	if (child->pid != ctgid || bpf_map_lookup_elem(&tracked, &ctgid))
		return 0;
	return fork_seen(parent, child);
}

/* The second programs of sched_process_exec and sched_process_exit send
 * an event, which must not be sent twice, and a task that moved to another
 * CPU between the two programs finds no per-CPU mark (seen): so the first
 * also marks the thread's event here, in a hash keyed by kind and tid, for
 * the traced tree alone and where the second programs are loaded, and the
 * second acts only where it finds neither mark. A mark the second did not
 * clear (the kernel skipped it) names an event gone (an exec's
 * linux_binprm, an exiting task), which a later one of that thread matches
 * only at the same address with the first skipped. */
#define DONE_EXEC 0
#define DONE_EXIT 1

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   /* kind << 32 | tid */
	__type(value, __u64); /* the event's kernel object */
} done_by_first SEC(".maps");

/* mark_done says the first program of kind acts on event for the current
 * thread. */
static __always_inline void mark_done(__u32 kind, __u64 event)
{
	__u64 key = (__u64)kind << 32 | (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&done_by_first, &key, &event, BPF_ANY);
}

/* was_done says whether the first program of kind acted on event for the
 * current thread, and clears the mark. */
static __always_inline bool was_done(__u32 kind, __u64 event)
{
	__u64 key = (__u64)kind << 32 | (__u32)bpf_get_current_pid_tgid();
	__u64 *mark = bpf_map_lookup_elem(&done_by_first, &key);
	if (!mark || *mark != event)
		return false;
	bpf_map_delete_elem(&done_by_first, &key);
	return true;
}

/* exe_ctime_ns is an inode's change time in ns since the epoch, read from
 * whichever fields the running kernel has; 0 when it has none of them. The
 * user side compares it with stat(2)'s st_ctim: a file rewritten in place
 * (its inode kept) is then not taken for the version seen before. */
static __always_inline __u64 exe_ctime_ns(struct inode *inode)
{
	__s64 sec;
	__u32 nsec;
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		sec = BPF_CORE_READ(inode, i_ctime_sec);
		nsec = BPF_CORE_READ(inode, i_ctime_nsec) & ~(1U << 31); /* less I_CTIME_QUERIED */
	} else if (bpf_core_field_exists(((struct inode___v66 *)inode)->__i_ctime)) {
		struct inode___v66 *i = (void *)inode;
		sec = BPF_CORE_READ(i, __i_ctime.tv_sec);
		nsec = BPF_CORE_READ(i, __i_ctime.tv_nsec);
	} else if (bpf_core_field_exists(((struct inode___pre66 *)inode)->i_ctime)) {
		struct inode___pre66 *i = (void *)inode;
		sec = BPF_CORE_READ(i, i_ctime.tv_sec);
		nsec = BPF_CORE_READ(i, i_ctime.tv_nsec);
	} else {
		return 0;
	}
	return (__u64)sec * 1000000000 + nsec;
}

/* exec_event_of sends a successful exec; with_loop says whether the program
 * may call bpf_loop (on_exec_noloop): without it, PATH's entries are not
 * counted; again, whether it is the second program (on_exec_again). */
static __always_inline int exec_event_of(void *ctx, struct task_struct *p, int old_pid, struct linux_binprm *bprm, bool with_loop,
                                         bool again)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;
	if (!traced(tgid, NR_EXECVE))
		return 0;
	if (!again) {
		if (again_loaded)
			mark_done(DONE_EXEC, (__u64)bprm);
	} else if (was_done(DONE_EXEC, (__u64)bprm)) {
		return 0;
	}

	/* A non-leader thread that execs takes over the leader's tid: move its
	 * spawn slot so the execve's exit still pairs with its entry (the
	 * task-local syscall slot moves with the task by itself). */
	__u32 ns_old_tid = 0;
	if ((__u32)old_pid != tid) {
		__u32 old = old_pid;
		struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &old);
		if (slot) {
			ns_old_tid = slot->ns_tid;
			close_slot(tid); /* a leftover: the counts stay exact */
			bpf_map_update_elem(&spawn_slots, &tid, slot, BPF_ANY);
			bpf_map_delete_elem(&spawn_slots, &old);
		}
		inflight_moved(old, tid);
	}

	/* A 64-bit execve that loaded a 32-bit program returns through the
	 * i386 table, which the spawn calls' tracepoints never see: while the
	 * raw pair is not attached, the call ends here (it succeeded), and the
	 * reader is woken to attach it. */
	bool compat_unseen = is_compat(p) && compat_path_missing();
	if (compat_unseen)
		sys_exit_common(ctx, NULL, current_task(), 0, with_loop); /* an exec: no stack */

	/* A new program: its first spawn must wake the reader again (no
	 * spawn does under table_only, which sends none). */
	if (!table_only)
		bpf_map_delete_elem(&announced, &tgid);

	struct exec_event *e = NEW_RECORD(exec_event, EV_EXEC, CLEAR_TO(exec_event, x.filename));
	if (!e)
		return 0;
	e->h.ts_ns = bpf_ktime_get_ns();
	e->old_tid = old_pid;
	if (pidns_nested)
		e->old_tid = (__u32)old_pid == tid ? e->h.tid : ns_old_tid;
	e->x.filename[0] = 0;
	/* exec has set TS_COMPAT for a 32-bit program and cleared it for a
	 * 64-bit one: the table the new program's calls go through. */
	if (is_compat(p))
		e->h.flags |= EVF_COMPAT;
	if (table_only) {
		submit(e, sizeof(*e), compat_unseen);
		return 0;
	}
	if (bpf_probe_read_kernel_str(e->x.filename, sizeof(e->x.filename), BPF_CORE_READ(bprm, filename)) <= 0)
		e->h.flags |= EVF_NAME_UNREAD;
	e->x.argc = BPF_CORE_READ(bprm, argc);
	e->x.envc = BPF_CORE_READ(bprm, envc);

	/* argv and the environment now sit on the new stack, written by the
	 * kernel a moment ago, so they are present and readable. */
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	struct inode *exe = BPF_CORE_READ(mm, exe_file, f_inode);
	if (exe) {
		e->exe_dev = BPF_CORE_READ(exe, i_sb, s_dev);
		e->exe_ino = BPF_CORE_READ(exe, i_ino);
		e->exe_ctime_ns = exe_ctime_ns(exe);
		e->exe_size_bytes = BPF_CORE_READ(exe, i_size);
	}
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	e->x.env_bytes = BPF_CORE_READ(mm, env_end) - BPF_CORE_READ(mm, env_start);
	if (with_loop)
		e->x.path_entries = path_entries(mm, e->x.argc, e->x.envc, is_compat(p));
	unsigned long len = arg_end - arg_start;
	if (len >= ARGV_LEN) {
		if (len > ARGV_LEN)
			e->h.flags |= EVF_ARGV_TRUNCATED;
		if (bpf_probe_read_user(e->x.argv, ARGV_LEN, (void *)arg_start) == 0)
			e->x.argv_len = ARGV_LEN;
	} else if (len > 0) {
		if (bpf_probe_read_user(e->x.argv, len & (ARGV_LEN - 1), (void *)arg_start) == 0)
			e->x.argv_len = len;
	}
	submit(e, sizeof(*e), compat_unseen);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	mark_seen(SEEN_EXEC);
	return exec_event_of(ctx, p, old_pid, bprm, true, false);
}

/* on_exec where the kernel has no bpf_loop (see raw_exit_noloop). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_noloop, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	mark_seen(SEEN_EXEC);
	return exec_event_of(ctx, p, old_pid, bprm, false, false);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_again, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	if (was_seen(SEEN_EXEC))
		return 0;
	return exec_event_of(ctx, p, old_pid, bprm, true, true);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_again_noloop, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	if (was_seen(SEEN_EXEC))
		return 0;
	return exec_event_of(ctx, p, old_pid, bprm, false, true);
}

/* exit_of follows an exiting thread; again says whether it is the second
 * program (on_exit_again), which returns where the first marked the
 * task. */
static __always_inline int exit_of(struct task_struct *p, bool again)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;
	/* Before the tracked check: a thread that exits as its process's last
	 * is gone from tracked may still hold a slot. */
	inflight_exited(tid);
	/* Before the tracked check too, which the first may have made fail:
	 * the mark goes whatever the first did. */
	if (again && was_done(DONE_EXIT, (__u64)p))
		return 0;
	struct tracked_proc *t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	if (!again && again_loaded)
		mark_done(DONE_EXIT, (__u64)p);
	/* exit and exit_group never return: drop their open slots here
	 * (table_only opens none). */
	if (!table_only)
		close_slot(tid);

	bool group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	bool active = t->state == TRACK_ACTIVE;
	if (group_dead) {
		bpf_map_delete_elem(&tracked, &tgid);
		if (!table_only)
			bpf_map_delete_elem(&announced, &tgid);
	}
	if (!active)
		return 0;

	struct exit_event *e = NEW_RECORD(exit_event, EV_EXIT, sizeof(struct exit_event));
	if (!e)
		return 0;
	e->h.ts_ns = bpf_ktime_get_ns();
	e->exit_code = BPF_CORE_READ(p, exit_code);
	if (group_dead)
		e->h.flags |= EVF_GROUP_DEAD;
	else if (tid == tgid && bpf_core_field_exists(p->signal->group_exec_task)) {
		/* A leader that dies while its process lives on: another
		 * thread's exec is taking its place (strace: "superseded"). */
		struct task_struct *execer = BPF_CORE_READ(p, signal, group_exec_task);
		if (execer && execer != p) {
			e->h.flags |= EVF_SUPERSEDED;
			e->exec_tid = pidns_nested ? ns_nr(execer, false) : BPF_CORE_READ(execer, pid);
		}
	}
	submit(e, sizeof(*e), false);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	mark_seen(SEEN_PROCESS_EXIT);
	return exit_of(p, false);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_again, struct task_struct *p)
{
	if (was_seen(SEEN_PROCESS_EXIT))
		return 0;
	return exit_of(p, true);
}

/* ---- spawn anatomy: the address-space copy, lock stalls, blocked time ----
 * Without kprobes or fentry, dup_mmap() is timed by the write hold of the
 * parent's mmap lock it takes around the whole copy. */

static __always_inline struct mm_struct *current_mm(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, mm);
}

/* Each mmap_lock program has a second (see seen), which returns on the
 * first's per-CPU mark. Where the task moved between the two, acquired and
 * released are done again harmlessly (lock_start_ns, set and cleared by
 * the first, makes the second return); start counts a waiter twice. */
static __always_inline int lock_start(struct mm_struct *mm)
{
	__u64 key = (__u64)mm;
	struct lock_waiters *w = bpf_map_lookup_elem(&forking_mm, &key);
	if (!w)
		return 0;
	/* Only the parent's own threads (those using this mm): another
	 * process taking it, spawntrace reading /proc/PID/smaps_rollup or a
	 * kernel thread such as khugepaged, is no stall of the workload's. */
	if (mm != current_mm())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_lookup_elem(&spawn_slots, &tid))
		return 0; /* the forking thread itself */
	__sync_fetch_and_add(&w->n, 1);
	__sync_fetch_and_add(&w->sum_start_ns, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/mmap_lock_start_locking")
int BPF_PROG(on_lock_start, struct mm_struct *mm, bool write)
{
	if (again_loaded)
		mark_seen(SEEN_LOCK_START);
	if (!timed_slots)
		return 0;
	return lock_start(mm);
}

SEC("tp_btf/mmap_lock_start_locking")
int BPF_PROG(on_lock_start_again, struct mm_struct *mm, bool write)
{
	if (was_seen(SEEN_LOCK_START) || !timed_slots)
		return 0;
	return lock_start(mm);
}

static __always_inline int lock_acquired(struct mm_struct *mm, bool write, bool success)
{
	if (!timed_slots)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 key = (__u64)mm;
	struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &tid);
	if (!slot || !success || slot->lock_start_ns)
		return 0;
	if (is_clone_nr(slot->nr)) {
		if (!write || mm != current_mm())
			return 0;
		struct lock_waiters none = {};
		bpf_map_update_elem(&forking_mm, &key, &none, BPF_ANY);
	} else if (slot->exec_old_mm) {
		/* exec: holds of the old mm once it is no longer ours are
		 * exit_mmap() tearing the copied address space down. */
		if (key != slot->exec_old_mm || mm == current_mm())
			return 0;
	} else {
		return 0;
	}
	slot->lock_start_ns = bpf_ktime_get_ns();
	slot->lock_mm = key;
	return 0;
}

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(on_lock_acquired, struct mm_struct *mm, bool write, bool success)
{
	if (again_loaded)
		mark_seen(SEEN_LOCK_ACQUIRED);
	return lock_acquired(mm, write, success);
}

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(on_lock_acquired_again, struct mm_struct *mm, bool write, bool success)
{
	if (was_seen(SEEN_LOCK_ACQUIRED))
		return 0;
	return lock_acquired(mm, write, success);
}

/* timed_end ends the slot's timed hold (lock_start_ns): it adds the hold
 * to the copy or the teardown and returns how long it was. */
static __always_inline __u64 timed_end(struct spawn_slot *slot)
{
	__u64 held = bpf_ktime_get_ns() - slot->lock_start_ns;
	/* Time preempted while holding the lock is the machine's load, not
	 * the copy's or the teardown's work: keep it apart so the fit against
	 * RSS stays clean and a saving is not charged the run queue. */
	__u64 offcpu = slot->lock_offcpu_ns < held ? slot->lock_offcpu_ns : held;
	slot->lock_start_ns = 0;
	slot->lock_offcpu_ns = 0;
	if (is_clone_nr(slot->nr)) {
		slot->copy_ns += held - offcpu;
		slot->copy_offcpu_ns += offcpu;
	} else {
		slot->teardown_ns += held - offcpu;
	}
	return held;
}

static __always_inline int lock_released(struct mm_struct *mm)
{
	if (!timed_slots)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &tid);
	if (!slot || !slot->lock_start_ns || slot->lock_mm != (__u64)mm)
		return 0;
	__u64 held = timed_end(slot);
	if (is_clone_nr(slot->nr)) {
		__u64 key = (__u64)mm;
		struct lock_waiters *w = bpf_map_lookup_elem(&forking_mm, &key);
		if (w && w->n) {
			__u64 now = bpf_ktime_get_ns();
			__u64 waited = w->n * now - w->sum_start_ns;
			if (waited < w->n * held) /* a start racing the release: keep it sane */
				slot->lock_stall_ns += waited;
		}
		bpf_map_delete_elem(&forking_mm, &key);
	}
	return 0;
}

SEC("tp_btf/mmap_lock_released")
int BPF_PROG(on_lock_released, struct mm_struct *mm, bool write)
{
	if (again_loaded)
		mark_seen(SEEN_LOCK_RELEASED);
	return lock_released(mm);
}

SEC("tp_btf/mmap_lock_released")
int BPF_PROG(on_lock_released_again, struct mm_struct *mm, bool write)
{
	if (was_seen(SEEN_LOCK_RELEASED))
		return 0;
	return lock_released(mm);
}

/* ---- the same, by kprobes, where the kernel has no mmap_lock
 * tracepoints (Debian's 5.10) ----
 * The copy is timed as the tracepoints time it, by the write hold of the
 * parent's mmap lock that dup_mmap() takes around it, seen at the lock
 * functions (dup_mmap itself is inlined into its caller on 5.10 and 6.12);
 * other threads' stalls on that lock are not measured. The teardown is
 * exit_mmap(), the exec's old address space going, timed whole. */

static __always_inline struct spawn_slot *kp_slot(void)
{
	if (!timed_slots)
		return NULL;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	return bpf_map_lookup_elem(&spawn_slots, &tid);
}

SEC("kprobe/down_write_killable")
int BPF_KPROBE(kp_lock_start, void *sem)
{
	struct spawn_slot *slot = kp_slot();
	if (!slot || slot->lock_start_ns || !is_clone_nr(slot->nr))
		return 0;
	struct mm_struct *mm = current_mm();
	if (sem == &mm->mmap_lock)
		slot->lock_mm = (__u64)mm; /* acquiring: timed from its return */
	return 0;
}

SEC("kretprobe/down_write_killable")
int BPF_KRETPROBE(kp_lock_acquired, long ret)
{
	struct spawn_slot *slot = kp_slot();
	if (!slot || slot->lock_start_ns || !slot->lock_mm || !is_clone_nr(slot->nr))
		return 0;
	if (ret == 0)
		slot->lock_start_ns = bpf_ktime_get_ns();
	else
		slot->lock_mm = 0;
	return 0;
}

SEC("kprobe/up_write")
int BPF_KPROBE(kp_lock_released, void *sem)
{
	struct spawn_slot *slot = kp_slot();
	if (!slot || !slot->lock_start_ns || !is_clone_nr(slot->nr))
		return 0;
	struct mm_struct *mm = (struct mm_struct *)slot->lock_mm;
	if (sem != &mm->mmap_lock)
		return 0;
	timed_end(slot);
	slot->lock_mm = 0;
	return 0;
}

SEC("kprobe/exit_mmap")
int BPF_KPROBE(kp_teardown_start, struct mm_struct *mm)
{
	struct spawn_slot *slot = kp_slot();
	if (!slot || slot->lock_start_ns || is_clone_nr(slot->nr) || slot->exec_old_mm != (__u64)mm)
		return 0;
	slot->lock_start_ns = bpf_ktime_get_ns();
	slot->lock_mm = (__u64)mm;
	return 0;
}

SEC("kretprobe/exit_mmap")
int BPF_KRETPROBE(kp_teardown_end)
{
	struct spawn_slot *slot = kp_slot();
	if (slot && slot->lock_start_ns && !is_clone_nr(slot->nr))
		timed_end(slot);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!open_slots)
		return 0;
	__u32 prev_tid = prev->pid;
	__u32 next_tid = next->pid;
	struct spawn_slot *slot = bpf_map_lookup_elem(&spawn_slots, &prev_tid);
	if (slot)
		slot->offcpu_start_ns = bpf_ktime_get_ns();
	slot = bpf_map_lookup_elem(&spawn_slots, &next_tid);
	if (slot && slot->offcpu_start_ns) {
		__u64 off = bpf_ktime_get_ns() - slot->offcpu_start_ns;
		slot->blocked_ns += off;
		if (slot->lock_start_ns)
			slot->lock_offcpu_ns += off;
		slot->offcpu_start_ns = 0;
	}
	return 0;
}

/* ---- on-CPU samples of the tree (perf_event, software cpu-clock) ---- */

/* sample_needs_map says whether the sample must wake the reader: when the
 * kernel gave no build IDs at all (SAMPLEF_USTACK_IPS), only the process's
 * memory map names its frames, so its first sample since its exec wakes
 * the reader to read the map while it lives (announced, as for spawns).
 * Otherwise none does. The kernel also gives bare addresses when it cannot
 * take the mmap lock (the task holds it itself, in mmap, mprotect or
 * execve); waking the reader for those, once per process, named few more
 * frames and cost about as much as all other samples. */
static __always_inline bool sample_needs_map(struct sample *s, __u32 tgid)
{
	if (!(s->flags & SAMPLEF_USTACK_IPS) || s->ustack_len <= 0 || bpf_map_lookup_elem(&announced, &tgid))
		return false;
	__u64 since_ns = s->ts_ns;
	bpf_map_update_elem(&announced, &tgid, &since_ns, BPF_ANY);
	return true;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct tracked_proc *t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t || t->state != TRACK_ACTIVE)
		return 0;
	struct sample *s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		count_lost(LOST_RINGBUF);
		return 0;
	}
	s->kind = EV_SAMPLE;
	s->pid = tgid;
	s->tid = (__u32)id;
	if (pidns_nested) {
		/* As the events have them: /proc names the process by these. */
		s->pid = t->ns_pid;
		s->tid = ns_nr((struct task_struct *)bpf_get_current_task(), false);
	}
	s->cpu = bpf_get_smp_processor_id();
	s->ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	s->flags = 0;
	s->pad = 0;
	s->kstack_len = bpf_get_stack(ctx, s->kstack, sizeof(s->kstack), 0);
	/* Build IDs and file offsets name a frame after its process is gone:
	 * the sample need not wake the reader to have the process's memory
	 * map read while it lives, as bare addresses do. */
	s->ustack_len = bpf_get_stack(ctx, s->ustack, sizeof(s->ustack), BPF_F_USER_STACK | BPF_F_USER_BUILD_ID);
	if (s->ustack_len < 0) {
		s->ustack_len = bpf_get_stack(ctx, s->ustack, SAMPLE_STACK_DEPTH * sizeof(__u64), BPF_F_USER_STACK);
		s->flags |= SAMPLEF_USTACK_IPS;
	}
	submit(s, sizeof(*s), sample_needs_map(s, tgid));
	return 0;
}

/* ---- pid namespaces: run from user space, before anything is attached ----
 * An iterator over every task of the machine, read by spawntrace, so the
 * current task is spawntrace itself: it sets pidns_level from its own
 * struct pid, and, for -p inside a namespace, fills in the host tgid of
 * each pid user space put in resolve (the kernel has no other way to turn
 * a namespace's pid into the global one the tracked map is keyed by).
 * Only loaded when spawntrace's pid namespace is not the initial one. */
SEC("iter/task")
int resolve_pids(struct bpf_iter__task *ctx)
{
	struct task_struct *me = (struct task_struct *)bpf_get_current_task();
	pidns_level = BPF_CORE_READ(me, thread_pid, level);
	struct task_struct *task = ctx->task;
	if (!task || task->pid != task->tgid)
		return 0;
	__u32 nr = ns_nr(task, true);
	if (!nr)
		return 0;
	__u32 *host = bpf_map_lookup_elem(&resolve, &nr);
	if (host)
		*host = task->tgid;
	return 0;
}
