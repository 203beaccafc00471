package live

import (
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
)

// rustProbe tells which forking programs are Rust programs, so that Rust
// std's fork fallback is named only for them: its calls (a pipe2 or
// socketpair with CLOEXEC, then fork) are what a C program may do too.
// Each program that forks is read once (symbolize.RustProgram), through
// its process's /proc/PID/exe while it lives, off the reader's goroutine.
type rustProbe struct {
	procRoot string
	exeOf    map[uint32]string // reader goroutine: each process's exec'd program
	queued   map[string]bool   // reader goroutine: programs queued to be read
	jobs     chan rustJob
	mu       sync.Mutex
	rust     map[string]bool
	done     chan struct{}
}

type rustJob struct {
	pid uint32
	exe string
}

// rustMaxPrograms bounds how many distinct forking programs are read.
const rustMaxPrograms = 256

func newRustProbe() *rustProbe {
	p := &rustProbe{procRoot: "/proc", exeOf: map[uint32]string{}, queued: map[string]bool{},
		jobs: make(chan rustJob, 64), rust: map[string]bool{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for j := range p.jobs {
			if p.isRust(j) {
				p.mu.Lock()
				p.rust[j.exe] = true
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// isRust reads the program of j's process: the very file while the process
// lives, else the file by the name it was exec'd by.
func (p *rustProbe) isRust(j rustJob) bool {
	// OpenRegular: the name is the workload's, which may have put a FIFO
	// or a device there since, and a blocked open would hang Finish.
	f, err := symbolize.OpenRegular(p.procRoot + "/" + strconv.FormatUint(uint64(j.pid), 10) + "/exe")
	if err != nil {
		if !filepath.IsAbs(j.exe) {
			return false
		}
		if f, err = symbolize.OpenRegular(j.exe); err != nil {
			return false
		}
	}
	defer f.Close()
	return symbolize.RustProgram(f)
}

// Observe is called for every event on the reader goroutine.
func (p *rustProbe) Observe(ev *tracer.Event) {
	switch {
	case ev.Kind == tracer.KindExec && ev.Filename != "":
		p.exeOf[ev.Pid] = ev.Filename
	case ev.Kind == tracer.KindExit && ev.GroupDead:
		delete(p.exeOf, ev.Pid)
	case ev.Kind == tracer.KindFork && !ev.Thread:
		exe := p.exeOf[ev.Pid]
		if exe == "" || p.queued[exe] || len(p.queued) >= rustMaxPrograms {
			return
		}
		select {
		case p.jobs <- rustJob{ev.Pid, exe}:
			p.queued[exe] = true
		default: // full: the program's next fork asks again
		}
	}
}

// Finish waits for pending reads and keeps the Rust programs found.
func (p *rustProbe) Finish(rec *recording.Recording) {
	close(p.jobs)
	<-p.done
	rec.RustChecked = true
	rec.RustPrograms = nil
	for exe := range p.rust {
		rec.RustPrograms = append(rec.RustPrograms, exe)
	}
	sort.Strings(rec.RustPrograms)
}
