package live

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestCheckPidRange(t *testing.T) {
	hi := pidMax() - 1
	for _, pid := range []int{0, -1, hi + 1, 1<<32 + 1} {
		if err := CheckPidRange(pid); err == nil || !strings.Contains(err.Error(), "PID must be between 1 and "+strconv.Itoa(hi)) {
			t.Errorf("CheckPidRange(%d) = %v, want a refusal naming 1..%d", pid, err, hi)
		}
	}
	for _, pid := range []int{1, hi} {
		if err := CheckPidRange(pid); err != nil {
			t.Errorf("CheckPidRange(%d) = %v", pid, err)
		}
	}
}

// What /proc says of this test process, and the refusals that need no
// other process: itself, and a pid that names no process.
func TestCheckAttachTarget(t *testing.T) {
	self := os.Getpid()
	task, err := readProcTask(self)
	if err != nil {
		t.Fatal(err)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if task.comm != strings.TrimSuffix(string(comm), "\n") || task.tgid != self || task.state == 'Z' || task.flags&pfKthread != 0 {
		t.Errorf("readProcTask(self) = %+v, want comm %q, tgid %d, running, not a kernel thread", task, comm, self)
	}
	if err := CheckAttachTarget(self); err == nil || err.Error() != "that is spawntrace itself" {
		t.Errorf("CheckAttachTarget(self) = %v", err)
	}
	if tid := syscall.Gettid(); tid != self {
		if err := CheckAttachTarget(tid); err == nil || !strings.Contains(err.Error(), "a thread of process "+strconv.Itoa(self)) {
			t.Errorf("CheckAttachTarget(a thread of this process) = %v", err)
		}
	}
	gone := pidMax() - 1
	for ; gone > 1; gone-- {
		if _, err := os.Stat("/proc/" + strconv.Itoa(gone)); os.IsNotExist(err) {
			break
		}
	}
	if err := CheckAttachTarget(gone); err == nil || err.Error() != "no such process in this pid namespace" {
		t.Errorf("CheckAttachTarget(%d, no such process) = %v", gone, err)
	}
}
