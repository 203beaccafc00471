package live

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// libcProbe finds the C library of the traced programs. The libc that
// decides how a process spawns is the spawner's own, so the first
// processes that fork have their /proc/PID/maps read while they are alive
// (off the ring-buffer reader's goroutine). When none
// maps one (a static Go spawner, or every spawner gone too soon), the ELF
// interpreter of the programs exec'd names it instead.
type libcProbe struct {
	pids  chan uint32
	tried map[uint32]bool // reader goroutine only
	execs []string        // reader goroutine only, until Finish
	// early is the libc that earlyExe's interpreter names, read while
	// the tree runs (prefetch).
	early    chan *recording.Libc
	earlyExe string
	mu       sync.Mutex
	found    *recording.Libc
	done     chan struct{}
}

// Bounds on the work done for a fact that one process answers.
const (
	libcMaxSpawners = 16
	libcMaxExecs    = 8
	libcMaxBytes    = 16 << 20
)

func newLibcProbe() *libcProbe {
	p := &libcProbe{pids: make(chan uint32, libcMaxSpawners), tried: map[uint32]bool{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for pid := range p.pids {
			p.mu.Lock()
			have := p.found != nil
			p.mu.Unlock()
			if have {
				continue
			}
			if l := libcOfProcess(pid); l != nil {
				p.mu.Lock()
				p.found = l
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// Observe is called for every event on the reader goroutine.
func (p *libcProbe) Observe(ev *tracer.Event) {
	switch {
	case ev.Kind == tracer.KindFork && !ev.Thread:
		if p.tried[ev.Pid] || len(p.tried) >= libcMaxSpawners {
			return
		}
		p.tried[ev.Pid] = true
		select {
		case p.pids <- ev.Pid:
		default:
		}
	case ev.Kind == tracer.KindExec && ev.Filename != "" && len(p.execs) < libcMaxExecs:
		p.execs = append(p.execs, ev.Filename)
	}
}

// prefetch reads, while the tree runs, the libc that exe's interpreter
// names, in case no spawner names one (a workload that starts nothing):
// ~2 ms that a run of /bin/true waited for at its end (its exec event is
// read only then), spent whether or not a spawner names one.
func (p *libcProbe) prefetch(exe string) {
	p.early, p.earlyExe = make(chan *recording.Libc, 1), exe
	go func() { p.early <- libcOfExecutable(exe) }()
}

// Finish waits for pending reads and keeps the libc found (nil if none)
// as the host's.
func (p *libcProbe) Finish(rec *recording.Recording) {
	rec.Host.Libc = p.find()
}

// find waits for pending reads and returns the libc found, nil if none.
func (p *libcProbe) find() *recording.Libc {
	close(p.pids)
	<-p.done
	if p.found != nil {
		return p.found
	}
	for _, exe := range p.execs {
		var l *recording.Libc
		if p.early != nil && exe == p.earlyExe {
			l = <-p.early
			p.early = nil
		} else {
			l = libcOfExecutable(exe)
		}
		if l != nil {
			return l
		}
	}
	return nil
}

// libcName matches the file names of glibc's and musl's C library (and
// musl's loader, which is its libc).
var libcName = regexp.MustCompile(`^(libc\.so\.6|libc-\d+\.\d+(\.\d+)?\.so|libc\.so|ld-musl-[^/]*\.so\.1|libc\.musl-[^/]*\.so\.1)$`)

// libcOfProcess reads the libc a live process maps.
func libcOfProcess(pid uint32) *recording.Libc {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	f, err := os.Open(dir + "/maps")
	if err != nil {
		return nil
	}
	comm, _ := os.ReadFile(dir + "/comm")
	path := libcInMaps(f)
	f.Close()
	if path == "" {
		return nil
	}
	// Through the process's root, in case it runs in another mount
	// namespace (a container).
	l := libcOfFile(dir+"/root"+path, path)
	if l == nil {
		l = libcOfFile(path, path)
	}
	if l != nil {
		l.Source = "mapped by " + strings.TrimSpace(string(comm))
	}
	return l
}

// libcInMaps returns the path of the first C library in a maps file.
func libcInMaps(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		path := strings.Join(f[5:], " ")
		if strings.HasPrefix(path, "/") && libcName.MatchString(filepath.Base(path)) {
			return path
		}
	}
	return ""
}
