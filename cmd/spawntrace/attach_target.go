package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/spawntrace/spawntrace/reports"
)

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

// checkPidRange refuses a -p value that cannot be a pid (an int larger than
// 32 bits would otherwise wrap to another process's number).
func checkPidRange(pid int) error {
	if hi := pidMax() - 1; pid < 1 || pid > hi {
		return fmt.Errorf("-p %d: PID must be between 1 and %d", pid, hi)
	}
	return nil
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

// checkAttachTarget says, in one line, why pid cannot be traced: it is
// not a process of spawntrace's pid namespace, or it is spawntrace itself,
// a kernel thread (no syscalls of its own), a zombie (nothing left to run)
// or a thread of another process. The pid is looked up in /proc, which
// must be this namespace's: a container's pid is never taken for the host
// process of that number.
func checkAttachTarget(pid int) error {
	if err := checkPidRange(pid); err != nil {
		return err
	}
	if pid == os.Getpid() {
		return fmt.Errorf("-p %d: that is spawntrace itself", pid)
	}
	if err := procIsOurs(); err != nil {
		return fmt.Errorf("-p %d: %v", pid, err)
	}
	t, err := readProcTask(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("-p %d: no such process in this pid namespace", pid)
	}
	if err != nil {
		return fmt.Errorf("-p %d: %v", pid, err)
	}
	name := reports.TermSafe(t.comm)
	switch {
	case t.flags&pfKthread != 0:
		return fmt.Errorf("-p %d: %s is a kernel thread: it makes no syscalls of its own to trace", pid, name)
	case t.state == 'Z' || t.state == 'X':
		return fmt.Errorf("-p %d: %s has exited (a zombie its parent has not reaped): nothing left to trace", pid, name)
	case t.tgid != 0 && t.tgid != pid:
		return fmt.Errorf("-p %d: a thread of process %d: attach to %d", pid, t.tgid, t.tgid)
	}
	return nil
}

// procIsOurs checks that /proc shows spawntrace's own pid namespace, so that
// the pids read there are the ones the user typed and the kernel shows
// spawntrace (a namespace entered without mounting its own /proc, as with
// `unshare -fp` without --mount-proc, leaves the parent's mounted).
func procIsOurs() error {
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
