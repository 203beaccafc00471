package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// execStep is one exec of a spawned child: the file tried and whether it
// ran.
type execStep struct {
	file string
	ok   bool
}

// searchRecording: one thread spawns a child per entry of children, each
// making its execs in order, then exiting.
func searchRecording(children [][]execStep) *recording.Recording {
	rec := &recording.Recording{StartMonoNs: 0, EndMonoNs: 1e9}
	t := uint64(1000)
	add := func(ev tracer.Event) {
		ev.TimeNs = t
		if ev.Pid == 0 {
			ev.Pid, ev.Tid, ev.Comm = 100, 100, "sh"
		}
		rec.Events = append(rec.Events, ev)
		t += ev.DurNs + 1000
	}
	for i, execs := range children {
		child := uint32(1000 + i)
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Vfork, Ret: int64(child), DurNs: 150_000})
		for _, x := range execs {
			ev := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: child, Tid: child, DurNs: 10_000, Filename: x.file}
			if !x.ok {
				ev.Ret = -2
			}
			add(ev)
		}
		add(tracer.Event{Kind: tracer.KindExit, Pid: child, Tid: child})
	}
	return rec
}

func failing(n int, name string) []execStep {
	var s []execStep
	for i := 0; i < n; i++ {
		s = append(s, execStep{file: "/dir" + string(rune('a'+i)) + "/" + name})
	}
	return s
}

// TestNotFoundApartFromPathSearch: failed execs that a later exec of the
// same process makes good (a PATH search, env's or a shebang's included)
// are the path-search note's, and an absolute path avoids them; those
// after which nothing ran (a command not found, in the child or in env
// after its own exec) are a note of their own, which does not give that
// advice, and name what was looked for.
func TestNotFoundApartFromPathSearch(t *testing.T) {
	var children [][]execStep
	for i := 0; i < 5; i++ { // posix_spawnp finding true
		children = append(children, append(failing(3, "true"), execStep{"/usr/bin/true", true}))
	}
	for i := 0; i < 2; i++ { // a script through #!/usr/bin/env python3
		s := []execStep{{"/tmp/s.py", true}}
		children = append(children, append(append(s, failing(2, "python3")...), execStep{"/usr/bin/python3", true}))
	}
	for i := 0; i < 4; i++ { // env nosuch
		children = append(children, append([]execStep{{"/usr/bin/env", true}}, failing(6, "nosuch")...))
	}
	children = append(children, failing(7, "ghost")) // a child whose every exec failed
	rec := searchRecording(children)
	s := summarized(rec)
	var ps, nf *summary.Finding
	for i := range s.Notes {
		switch s.Notes[i].ID {
		case summary.FindPathSearch:
			ps = &s.Notes[i]
		case summary.FindNotFound:
			nf = &s.Notes[i]
		}
	}
	if ps == nil || nf == nil {
		t.Fatalf("path-search note %v, not-found note %v; want both (findings %+v)", ps, nf, s.Findings)
	}
	if x := ps.PathSearch; x.FailedExecs != 5*3+2*2 || x.Spawns != 7 {
		t.Errorf("path-search counts %d failed execs in %d spawns; want 19 in 7 (those a later exec made good)", x.FailedExecs, x.Spawns)
	}
	if x := nf.NotFound; x.FailedExecs != 4*6+7 || x.Spawns != 5 || x.Example != "nosuch" || x.ExampleFailedExecs != 24 ||
		x.ExampleSpawns != 4 || x.FailedExecNs != 31*10_000 {
		t.Errorf("not-found facts %+v; want 31 failed execs (310 µs) in 5 spawns, most looking for nosuch (24 in 4)", *x)
	}
	if nf.SavingNs != 0 || nf.Basis != summary.BasisNone {
		t.Errorf("the not-found note claims a saving: %+v", *nf)
	}
	var b bytes.Buffer
	if err := WriteAnatomy(&b, rec, s); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"failed execs come from a PATH search: 19, 2.7 per spawn in 7 spawns (most in spawns of /usr/bin/true)",
		"31 failed execs found no program to run, in 5 spawns (most looking for nosuch: 24 in 4 spawns), 0.3 ms in all " +
			"(0% of the run): no absolute path avoids these",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
