package live

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// descendants lists pid and every process below it, from /proc, but for
// spawntrace itself: attached to one of its ancestors (-p $$, -p 1), it must
// not trace its own threads and their futex and epoll calls. Processes
// born while this runs are caught by the tracer's fork probe once pid's tree
// is tracked, except in the instant between the scan and the map update:
// the same window strace -p has.
func descendants(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	self := os.Getpid()
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		for _, c := range children[tree[i]] {
			if c != self {
				tree = append(tree, c)
			}
		}
	}
	return tree, nil
}

// parentOf reads the ppid field of /proc/PID/stat; the command name before
// it may hold spaces and parentheses, so parse after the last ')'.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// processAlive is false once pid has exited, reaped or not: an attached
// process's parent may leave it a zombie for a while, and kill(pid, 0)
// succeeds on a zombie.
func processAlive(pid int) bool {
	if unix.Kill(pid, 0) == unix.ESRCH {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// pidMaxLimit is the kernel's ceiling on pid_max (PID_MAX_LIMIT on 64-bit),
// used when /proc/sys/kernel/pid_max cannot be read.
const pidMaxLimit = 1 << 22

// pidMax is the bound pids stay below: /proc/sys/kernel/pid_max.
func pidMax() int {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return pidMaxLimit
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 2 {
		return pidMaxLimit
	}
	return n
}

// pfKthread is PF_KTHREAD in the flags field of /proc/PID/stat.
const pfKthread = 0x00200000

// procTask is what /proc/PID/stat and status say about a -p target.
type procTask struct {
	comm  string
	state byte
	flags uint64
	tgid  int
}

func readProcTask(pid int) (procTask, error) {
	var t procTask
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return t, err
	}
	s := string(b)
	l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if l < 0 || r < l {
		return t, fmt.Errorf("/proc/%d/stat: unexpected form", pid)
	}
	t.comm = s[l+1 : r]
	// After the comm: state ppid pgrp session tty_nr tpgid flags ...
	f := strings.Fields(s[r+1:])
	if len(f) < 7 || len(f[0]) != 1 {
		return t, fmt.Errorf("/proc/%d/stat: unexpected form", pid)
	}
	t.state = f[0][0]
	if t.flags, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return t, fmt.Errorf("/proc/%d/stat: flags: %v", pid, err)
	}
	b, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return t, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			t.tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return t, nil
}

// ProcIsOurs checks that /proc shows spawntrace's own pid namespace, so that
// the pids read there are the ones the user typed and the kernel shows
// spawntrace (a namespace entered without mounting its own /proc, as with
// `unshare -fp` without --mount-proc, leaves the parent's mounted).
func ProcIsOurs() error {
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return fmt.Errorf("reading /proc/self: %v", err)
	}
	if self != strconv.Itoa(os.Getpid()) {
		return fmt.Errorf("/proc belongs to another pid namespace than spawntrace's (it calls spawntrace %s, not %d): mount this namespace's (unshare --mount-proc)",
			self, os.Getpid())
	}
	return nil
}
