package syscalls

import (
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
)

// TestTraceSet: names, classes (strace 6.1's flags: execve is in %file and
// %process, socketpair in %network), negation, all/none and '?'.
func TestTraceSet(t *testing.T) {
	for _, c := range []struct {
		spec    string
		in, out []string
		spawns  bool
	}{
		{"execve", []string{"execve"}, []string{"clone", "openat"}, true},
		{"%process", []string{"execve", "clone3", "wait4", "kill", "exit_group"}, []string{"openat", "read"}, false},
		{"%file", []string{"execve", "openat", "newfstatat"}, []string{"read", "clone"}, false},
		{"%network", []string{"socketpair", "recvfrom"}, []string{"pipe"}, false},
		{"%desc", []string{"read", "close", "execveat"}, []string{"execve"}, false},
		{"%memory", []string{"mmap", "brk"}, []string{"read"}, false},
		{"%signal", []string{"rt_sigaction", "kill"}, []string{"read"}, false},
		{"!%file", []string{"read", "clone"}, []string{"execve", "openat"}, false},
		{"!!execve", []string{"execve"}, []string{"clone"}, true},
		{"clone,clone3,fork,vfork,execve,execveat,socketpair", []string{"clone", "socketpair"}, []string{"wait4"}, true},
		{"all", []string{"read", "execve"}, nil, false},
		{"none", nil, []string{"read", "execve"}, true},
		{"!none", []string{"read"}, nil, false},
		{"?nosuch,getpid", []string{"getpid"}, []string{"read"}, false},
	} {
		s, err := ParseTraceSet(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		for _, n := range c.in {
			if !s.Has(tracer.ABIX8664, n) {
				t.Errorf("%s: %s not in it", c.spec, n)
			}
		}
		for _, n := range c.out {
			if s.Has(tracer.ABIX8664, n) {
				t.Errorf("%s: %s in it", c.spec, n)
			}
		}
		if got := s.SpawnCallsOnly(); got != c.spawns {
			t.Errorf("%s: SpawnCallsOnly %v, want %v", c.spec, got, c.spawns)
		}
	}
	var nilSet *TraceSet
	if !nilSet.Has(tracer.ABIX8664, "read") || nilSet.SpawnCallsOnly() {
		t.Error("no set: every call, and not spawns only")
	}
	// i386: fork is a call of its own there, in %process.
	if s, _ := ParseTraceSet("%process"); !s.Has(tracer.ABII386, "fork") {
		t.Errorf("-e trace=%%process: i386 fork not in it")
	}
}

func TestTraceSetErrors(t *testing.T) {
	for _, spec := range []string{"nosuch", "%nosuch", "execve,", "", "!", "execve,bogus"} {
		_, err := ParseTraceSet(spec)
		if err == nil {
			t.Errorf("%q: no error", spec)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error of more than one line: %v", spec, err)
		}
	}
}
