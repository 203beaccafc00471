package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spawntrace/spawntrace/analyze"
	"github.com/spawntrace/spawntrace/tracer"
)

// libcProbe finds the C library of the traced programs. The libc that
// decides how a process spawns is the spawner's own, so the first
// processes that fork have their /proc/PID/maps read while they are alive
// (off the ring-buffer reader's goroutine, as spawnerProbe does). When none
// maps one (a static Go spawner, or every spawner gone too soon), the ELF
// interpreter of the programs exec'd names it instead.
type libcProbe struct {
	pids  chan uint32
	tried map[uint32]bool // reader goroutine only
	execs []string        // reader goroutine only, until finish
	mu    sync.Mutex
	found *analyze.Libc
	done  chan struct{}
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

// observe is called for every event on the reader goroutine.
func (p *libcProbe) observe(ev *tracer.Event) {
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

// finish waits for pending reads and returns the libc found, nil if none.
func (p *libcProbe) finish() *analyze.Libc {
	close(p.pids)
	<-p.done
	if p.found != nil {
		return p.found
	}
	for _, exe := range p.execs {
		if l := libcOfExecutable(exe); l != nil {
			return l
		}
	}
	return nil
}

// libcName matches the file names of glibc's and musl's C library (and
// musl's loader, which is its libc).
var libcName = regexp.MustCompile(`^(libc\.so\.6|libc-\d+\.\d+(\.\d+)?\.so|libc\.so|ld-musl-[^/]*\.so\.1|libc\.musl-[^/]*\.so\.1)$`)

// libcOfProcess reads the libc a live process maps.
func libcOfProcess(pid uint32) *analyze.Libc {
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

// libcOfExecutable names the libc an executable would load: none for a
// static one, musl or glibc from its interpreter, the glibc version from
// the libc.so.6 next to that interpreter.
func libcOfExecutable(exe string) *analyze.Libc {
	f, err := elf.Open(exe)
	if err != nil {
		return nil
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				interp = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	src := "interpreter of " + exe
	if interp == "" {
		return &analyze.Libc{Name: "none", Source: exe + " is static"}
	}
	if strings.Contains(filepath.Base(interp), "musl") {
		l := libcOfFile(interp, interp)
		if l == nil {
			l = &analyze.Libc{Name: "musl", Path: interp}
		}
		l.Source = src
		return l
	}
	resolved, err := filepath.EvalSymlinks(interp)
	if err != nil {
		resolved = interp
	}
	for _, dir := range []string{filepath.Dir(resolved), filepath.Dir(interp)} {
		candidates, _ := filepath.Glob(filepath.Join(dir, "libc.so.6"))
		more, _ := filepath.Glob(filepath.Join(dir, "libc-2.*.so"))
		for _, c := range append(candidates, more...) {
			if l := libcOfFile(c, c); l != nil {
				l.Source = src
				return l
			}
		}
	}
	return &analyze.Libc{Name: "glibc", Path: interp, Source: src}
}

// Version strings in the library files.
var (
	glibcRelease = regexp.MustCompile(`GNU C Library [^\n\x00]*?(?:release|version) version (\d+\.\d+(?:\.\d+)?)`)
	glibcSymver  = regexp.MustCompile(`GLIBC_(\d+)\.(\d+)(?:\.\d+)?\x00`)
	glibcName    = regexp.MustCompile(`libc-(\d+\.\d+(?:\.\d+)?)\.so$`)
	muslVersion  = regexp.MustCompile(`\x00(1\.\d+\.\d+)\x00`)
)

// libcOfFile reads the library at path (shown as shown) and finds which
// libc and version it is.
func libcOfFile(path, shown string) *analyze.Libc {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, libcMaxBytes))
	if err != nil {
		return nil
	}
	return identifyLibc(b, shown)
}

// identifyLibc tells glibc from musl by their contents and reads the
// version: glibc's banner ("GNU C Library (Debian GLIBC 2.36-9) stable
// release version 2.36."), else the file name (libc-2.17.so), else the
// newest GLIBC_2.N symbol version it defines (a lower bound); for musl, the
// bare version string its loader prints.
func identifyLibc(b []byte, shown string) *analyze.Libc {
	base := filepath.Base(shown)
	switch {
	case strings.Contains(base, "musl") || bytes.Contains(b, []byte("musl libc")):
		l := &analyze.Libc{Name: "musl", Path: shown}
		if m := muslVersion.FindSubmatch(b); m != nil {
			l.Version = string(m[1])
		}
		return l
	case bytes.Contains(b, []byte("GNU C Library")) || bytes.Contains(b, []byte("GLIBC_2.")):
		l := &analyze.Libc{Name: "glibc", Path: shown}
		if m := glibcRelease.FindSubmatch(b); m != nil {
			l.Version = string(m[1])
		} else if m := glibcName.FindStringSubmatch(base); m != nil {
			l.Version = m[1]
		} else if v := newestSymver(b); v != "" {
			l.Version, l.Approx = v, true
		}
		return l
	}
	return nil
}

func newestSymver(b []byte) string {
	type ver struct{ major, minor int }
	var vs []ver
	for _, m := range glibcSymver.FindAllSubmatch(b, -1) {
		ma, _ := strconv.Atoi(string(m[1]))
		mi, _ := strconv.Atoi(string(m[2]))
		vs = append(vs, ver{ma, mi})
	}
	if len(vs) == 0 {
		return ""
	}
	sort.Slice(vs, func(i, j int) bool {
		if vs[i].major != vs[j].major {
			return vs[i].major > vs[j].major
		}
		return vs[i].minor > vs[j].minor
	})
	return strconv.Itoa(vs[0].major) + "." + strconv.Itoa(vs[0].minor)
}

// workloadEnv describes the environment the workload started with: ours
// when spawntrace launched it (it inherits it), /proc/PID/environ when
// attached.
func workloadEnv(attachPid int) *analyze.EnvFacts {
	if attachPid == 0 {
		return analyze.EnvFactsOf(os.Environ())
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(attachPid) + "/environ")
	if err != nil {
		return nil
	}
	var env []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	return analyze.EnvFactsOf(env)
}
