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
