package ptrace

import (
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/spawntrace/spawntrace/tracer"
)

// fakeStack lays out argv and an environment as exec leaves them on a new
// stack (argc, argv[], NULL, envp[], NULL; the strings one after another),
// in this process's memory, which process_vm_readv reads as a tracee's.
func fakeStack(argv, env []string) (sp uint64, keep [][]byte) {
	strs := []byte(strings.Join(append(append([]string{}, argv...), env...), "\x00") + "\x00")
	base := uint64(uintptr(unsafe.Pointer(&strs[0])))
	var ptrs []uint64
	off := uint64(0)
	for _, s := range append(append([]string{}, argv...), env...) {
		ptrs = append(ptrs, base+off)
		off += uint64(len(s)) + 1
	}
	stack := make([]byte, 8*(len(ptrs)+3))
	binary.LittleEndian.PutUint64(stack, uint64(len(argv)))
	w := 8
	for i, p := range ptrs {
		if i == len(argv) {
			w += 8 // argv's NULL
		}
		binary.LittleEndian.PutUint64(stack[w:], p)
		w += 8
	}
	// envp's NULL (and argv's, without an environment) are the zeros left.
	return uint64(uintptr(unsafe.Pointer(&stack[0]))), [][]byte{strs, stack}
}

func TestReadNewStack(t *testing.T) {
	long := strings.Repeat("x", 600)
	for _, c := range []struct {
		argv, env []string
		wantArgv  []string
		truncated bool
	}{
		{[]string{"/bin/true", "a b", ""}, []string{"A=1", "PATH=/usr/bin"}, []string{"/bin/true", "a b", ""}, false},
		{[]string{"sh"}, nil, []string{"sh"}, false},
		{[]string{"echo", long, "y"}, []string{"A=1"}, []string{"echo", long[:argvKeepBytes-5]}, true},
	} {
		sp, keep := fakeStack(c.argv, c.env)
		var ev tracer.Event
		ok := readNewStack(uint32(os.Getpid()), sp, false, &ev)
		runtime.KeepAlive(keep)
		envBytes := 0
		for _, e := range c.env {
			envBytes += len(e) + 1
		}
		if !ok || ev.Argc != len(c.argv) || ev.EnvCount != len(c.env) || ev.EnvBytes != envBytes {
			t.Errorf("%q %q: ok %v, argc %d, %d vars of %d bytes; want %d, %d, %d", c.argv, c.env, ok, ev.Argc, ev.EnvCount, ev.EnvBytes,
				len(c.argv), len(c.env), envBytes)
		}
		if !slices.Equal(ev.Argv, c.wantArgv) || ev.ArgvTruncated != c.truncated {
			t.Errorf("%q: argv %q (truncated %v), want %q (%v)", c.argv, ev.Argv, ev.ArgvTruncated, c.wantArgv, c.truncated)
		}
	}
}
