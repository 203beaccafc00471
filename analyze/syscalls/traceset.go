package syscalls

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spawntrace/spawntrace/tracer"
)

// Class is a set of strace's syscall classes (-e trace=%file ...), as the
// flags of strace's syscallent.h.
type Class uint32

// strace's classes (src/sysent.h's TRACE_* flags).
const (
	ClassFile Class = 1 << iota
	ClassIPC
	ClassNetwork
	ClassProcess
	ClassSignal
	ClassDesc
	ClassMemory
	ClassStat
	ClassLstat
	ClassFstat
	ClassStatLike
	ClassStatfs
	ClassFstatfs
	ClassStatfsLike
	ClassPure
	ClassCreds
	ClassClock
)

// classNames are the names -e trace= takes for a class, as strace 6.1's
// basic_filters.c (qualify_syscall_class) spells them, legacy ones
// included; "all" is the class every call is in.
var classNames = map[string]Class{
	"%desc": ClassDesc, "%file": ClassFile, "%memory": ClassMemory, "%process": ClassProcess,
	"%creds": ClassCreds, "%signal": ClassSignal, "%ipc": ClassIPC, "%net": ClassNetwork,
	"%network": ClassNetwork, "%stat": ClassStat, "%lstat": ClassLstat, "%fstat": ClassFstat,
	"%%stat": ClassStatLike, "%statfs": ClassStatfs, "%fstatfs": ClassFstatfs,
	"%%statfs": ClassStatfsLike, "%pure": ClassPure, "%clock": ClassClock,
	"desc": ClassDesc, "file": ClassFile, "memory": ClassMemory, "process": ClassProcess,
	"signal": ClassSignal, "ipc": ClassIPC, "network": ClassNetwork,
}

// spawnCallNames are the calls --spawns-only counts.
var spawnCallNames = []string{"clone", "clone3", "fork", "vfork", "execve", "execveat", "socketpair", "pipe2"}

// TraceSet is strace's -e trace=SET: which syscalls are shown.
type TraceSet struct {
	spec    string
	invert  bool
	all     bool            // "all" (or "none" inverted)
	names   map[string]bool // calls named
	classes []Class         // classes named: a call in all of one's flags is in
}

// ParseTraceSet parses SET as strace 6.1 does (qualify_syscall_tokens):
// leading '!'s invert, "all" and "none", then comma-separated syscall
// names and classes, each optionally after '?' (no error when unknown).
// Syscall numbers and /regex are not taken. An unknown name is an error
// that names it.
func ParseTraceSet(spec string) (*TraceSet, error) {
	s := &TraceSet{spec: spec, names: map[string]bool{}}
	rest := spec
	for strings.HasPrefix(rest, "!") {
		s.invert = !s.invert
		rest = rest[1:]
	}
	switch rest {
	case "all":
		s.all = true
		return s, nil
	case "none":
		return s, nil
	case "":
		return nil, fmt.Errorf("invalid system call %q", spec)
	}
	known := KnownNames()
	for _, tok := range strings.Split(rest, ",") {
		optional := false
		for strings.HasPrefix(tok, "?") {
			optional, tok = true, tok[1:]
		}
		if c, ok := classNames[strings.ToLower(tok)]; ok {
			s.classes = append(s.classes, c)
			continue
		}
		if tok == "" || (!known[tok] && !optional) {
			return nil, fmt.Errorf("invalid system call %q", tok)
		}
		s.names[tok] = true
	}
	return s, nil
}

// String is the SET it was parsed from.
func (s *TraceSet) String() string { return s.spec }

// Has says whether the call name of abi's table is in the set.
func (s *TraceSet) Has(abi tracer.ABI, name string) bool {
	if s == nil {
		return true
	}
	in := s.all || s.names[name]
	if !in && len(s.classes) > 0 {
		c := classOf(abi, name)
		for _, want := range s.classes {
			if c&want == want {
				in = true
				break
			}
		}
	}
	return in != s.invert
}

// SpawnCallsOnly says whether every call the set holds is one that
// --spawns-only counts, so that counting only those loses nothing.
func (s *TraceSet) SpawnCallsOnly() bool {
	if s == nil {
		return false
	}
	for _, abi := range []tracer.ABI{tracer.ABIX8664, tracer.ABII386} {
		for name := range abiNames(abi) {
			if s.Has(abi, name) && !slices.Contains(spawnCallNames, name) {
				return false
			}
		}
	}
	return true
}

// classOf is the classes strace puts abi's call name in; none for a call
// strace 6.1 does not know.
func classOf(abi tracer.ABI, name string) Class {
	if abi == tracer.ABII386 {
		return classesI386[name]
	}
	return classesX8664[name]
}

// abiNames are the names of abi's table, strace's and the kernel's.
func abiNames(abi tracer.ABI) map[string]bool {
	names := map[string]bool{}
	classes := classesX8664
	if abi == tracer.ABII386 {
		classes = classesI386
	}
	for n := range classes {
		names[n] = true
	}
	for nr := 0; nr < 1024; nr++ {
		if n := SyscallName(abi, nr); !strings.HasPrefix(n, "syscall_") {
			names[n] = true
		}
	}
	return names
}

// KnownNames are the syscall names of either table.
func KnownNames() map[string]bool {
	names := abiNames(tracer.ABIX8664)
	for n := range abiNames(tracer.ABII386) {
		names[n] = true
	}
	return names
}

// ClassNames are the class names -e trace= takes, sorted.
func ClassNames() []string {
	names := make([]string, 0, len(classNames))
	for n := range classNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
