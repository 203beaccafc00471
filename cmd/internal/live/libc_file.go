package live

import (
	"bytes"
	"debug/elf"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
)

// libcOfExecutable names the libc an executable would load: none for a
// static one, musl or glibc from its interpreter, the glibc version from
// the libc.so.6 next to that interpreter.
func libcOfExecutable(exe string) *recording.Libc {
	r, err := symbolize.OpenRegular(exe) // the workload's interpreter and libraries may be FIFOs
	if err != nil {
		return nil
	}
	defer r.Close()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		// The kernel loads the first and refuses one longer than
		// PATH_MAX; another's length is only the file's word (2^62 made
		// a slice that panicked).
		if p.Filesz <= unix.PathMax {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				interp = strings.TrimRight(string(b), "\x00")
			}
		}
		break
	}
	src := "interpreter of " + exe
	if interp == "" {
		return &recording.Libc{Name: "none", Source: exe + " is static"}
	}
	if strings.Contains(filepath.Base(interp), "musl") {
		l := libcOfFile(interp, interp)
		if l == nil {
			l = &recording.Libc{Name: "musl", Path: interp}
		}
		l.Source = src
		return l
	}
	resolved, err := filepath.EvalSymlinks(interp)
	if err != nil {
		resolved = interp
	}
	for _, dir := range []string{filepath.Dir(resolved), filepath.Dir(interp)} {
		if l := libcOfFile(filepath.Join(dir, "libc.so.6"), filepath.Join(dir, "libc.so.6")); l != nil {
			l.Source = src
			return l
		}
		// Only then: globbing reads the whole library directory.
		older, _ := filepath.Glob(filepath.Join(dir, "libc-2.*.so"))
		for _, c := range older {
			if l := libcOfFile(c, c); l != nil {
				l.Source = src
				return l
			}
		}
	}
	return &recording.Libc{Name: "glibc", Path: interp, Source: src}
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
func libcOfFile(path, shown string) *recording.Libc {
	f, err := symbolize.OpenRegular(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	// Sized once: growing a buffer to 2 MB cost ~2 ms.
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil {
		buf.Grow(int(min(st.Size(), libcMaxBytes)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, libcMaxBytes)); err != nil {
		return nil
	}
	return identifyLibc(buf.Bytes(), shown)
}

// identifyLibc tells glibc from musl by their contents and reads the
// version: glibc's banner ("GNU C Library (Debian GLIBC 2.36-9) stable
// release version 2.36."), else the file name (libc-2.17.so), else the
// newest GLIBC_2.N symbol version it defines (a lower bound); for musl, the
// bare version string its loader prints.
func identifyLibc(b []byte, shown string) *recording.Libc {
	base := filepath.Base(shown)
	switch {
	case strings.Contains(base, "musl") || bytes.Contains(b, []byte("musl libc")):
		l := &recording.Libc{Name: "musl", Path: shown}
		if m := muslVersion.FindSubmatch(b); m != nil {
			l.Version = string(m[1])
		}
		return l
	case bytes.Contains(b, []byte("GNU C Library")) || bytes.Contains(b, []byte("GLIBC_2.")):
		l := &recording.Libc{Name: "glibc", Path: shown}
		if v := glibcBanner(b); v != "" {
			l.Version = v
		} else if m := glibcName.FindStringSubmatch(base); m != nil {
			l.Version = m[1]
		} else if v := newestSymver(b); v != "" {
			l.Version, l.Approx = v, true
		}
		return l
	}
	return nil
}

// glibcBanner is the version in glibc's banner, or "". The regexp runs
// only on the text from each "GNU C Library" to the next NUL or newline,
// which its match cannot cross: over the whole 2 MB file it took ~6 ms of
// every run's exit.
func glibcBanner(b []byte) string {
	marker := []byte("GNU C Library")
	for {
		i := bytes.Index(b, marker)
		if i < 0 {
			return ""
		}
		b = b[i:]
		end := bytes.IndexAny(b, "\n\x00")
		if end < 0 {
			end = len(b)
		}
		if m := glibcRelease.FindSubmatch(b[:end]); m != nil {
			return string(m[1])
		}
		b = b[len(marker):]
	}
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
