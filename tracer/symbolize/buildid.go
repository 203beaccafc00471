package symbolize

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
)

// CPU samples carry their user frames as build ID and file offset where the
// kernel can read them (bpf BPF_F_USER_BUILD_ID): a frame is then named
// from the file with that build ID, found in an index filled from every
// program exec'd (with its interpreter and the libraries it needs) and
// every file read through a memory map. A sample so need not reach user
// space while its process lives, so it need not wake the reader: only
// frames the kernel gave as bare addresses still need the process's map.
//
// This index, not the sample's urgency, is what names a short-lived
// process: a sample waits up to 50 ms in the ring buffer (tracer.Read).

// maxIndexedDeps bounds how deep libraries that need libraries are
// followed: a guard against a pathological chain, not a limit met in use
// (each file is indexed once, so a cycle ends by itself).
const maxIndexedDeps = 64

// ldSoConf lists the dynamic loader's library directories (with include
// lines); a variable so that tests can move it.
var ldSoConf = "/etc/ld.so.conf"

// defaultLibDirs are searched after ld.so.conf's, as the loader does.
var defaultLibDirs = []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// IndexExec indexes by build ID the program pid exec'd (filename as its
// exec event gives it; exe the file the kernel says it runs, zero when
// unknown), the interpreter it names and the libraries it needs, so that
// frames sampled in them are named after the process has exited. Each
// file's headers are read once, its symbols when a frame first falls in
// it. It reads files: call it from the goroutine that symbolizes, not
// from the ring-buffer reader's.
func (s *Symbolizer) IndexExec(pid uint32, filename string, exe tracer.FileID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Most execs run a program indexed before: the kernel's name for the
	// file says so without a syscall (one per exec woke the Go runtime's
	// sysmon thread into polling); where it gives none, one stat does.
	if !exe.IsZero() && s.execsIndexed[exe] {
		return
	}
	// Known by the kernel's name from then on, once that very file (not
	// what the path or /proc/PID/exe may show since) is indexed: that
	// version of it, or, where the kernel gave no change time, that inode.
	indexed := func(e *objEntry) {
		if e != nil && e.depsIndexed && !exe.IsZero() &&
			(e.key == exe || exe.CtimeNs == 0 && e.key.Inode() == exe.Inode()) {
			s.execsIndexed[exe] = true
		}
	}
	var st unix.Stat_t
	if filepath.IsAbs(filename) && unix.Stat(filename, &st) == nil {
		if e := s.files[tracer.FileIDOfStat(&st)]; e != nil && e.depsIndexed {
			indexed(e)
			return
		}
	}
	exePath := s.procRoot + "/" + strconv.FormatUint(uint64(pid), 10) + "/exe"
	// The very file while the process lives (whatever its name was: a
	// relative one, a script's interpreter, another mount namespace);
	// the name it was exec'd by once it is gone.
	if f, err := OpenRegular(exePath); err == nil {
		path, err := os.Readlink(exePath)
		if err != nil {
			path = filename
		}
		path, deleted := strings.CutSuffix(path, " (deleted)")
		e := s.indexOpen(f, path, nil, 0)
		if e != nil && e.pending && deleted {
			// Read now: once this is closed nothing can open it again (a
			// test program a build runs and removes).
			s.readIndexed(e, f)
		}
		f.Close()
		indexed(e)
		return
	}
	if !filepath.IsAbs(filename) {
		return
	}
	indexed(s.indexPath(filename, nil, 0))
}

// indexPath indexes the file at path; like is the program it is a library
// of (nil for a program), whose ELF class and machine it must have.
func (s *Symbolizer) indexPath(path string, like *elf.FileHeader, depth int) *objEntry {
	f, err := OpenRegular(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return s.indexOpen(f, path, like, depth)
}

// indexOpen indexes an open file found at path, then the interpreter and
// libraries it names, and returns its entry; nil when it is not an ELF
// file that like could load. A script is indexed as its #! interpreter.
func (s *Symbolizer) indexOpen(f *os.File, path string, like *elf.FileHeader, depth int) *objEntry {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	key := tracer.FileIDOfStat(&st)
	if e := s.files[key]; e != nil && e.depsIndexed {
		return e
	}
	ef, err := elf.NewFile(newBudgetReader(f))
	if err != nil {
		if like == nil && depth == 0 {
			if interp := shebang(f); interp != "" {
				return s.indexPath(interp, nil, depth+1)
			}
		}
		return nil
	}
	if like != nil && (ef.Class != like.Class || ef.Machine != like.Machine) {
		return nil
	}
	e := s.files[key]
	if e == nil {
		e = &objEntry{key: key, path: path, pending: true}
		s.files[key] = e
	}
	e.depsIndexed = true
	if id, ok := kernelBuildID(gnuBuildID(ef)); ok && s.byID[id] == nil {
		s.byID[id] = e
	}
	if depth >= maxIndexedDeps {
		return e
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP || p.Filesz > unix.PathMax {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err == nil {
			if interp := string(bytes.TrimRight(b, "\x00")); filepath.IsAbs(interp) {
				s.indexPath(interp, &ef.FileHeader, depth+1)
			}
		}
	}
	needed, _ := ef.ImportedLibraries()
	if len(needed) == 0 {
		return e
	}
	dirs := s.searchDirs(ef, filepath.Dir(path))
	for _, name := range needed {
		if strings.Contains(name, "/") {
			s.indexPath(name, &ef.FileHeader, depth+1)
			continue
		}
		for _, d := range dirs {
			if s.indexPath(filepath.Join(d, name), &ef.FileHeader, depth+1) != nil {
				break
			}
		}
	}
	return e
}

// searchDirs are where the loader looks for the libraries ef needs:
// DT_RPATH (unless there is a DT_RUNPATH), DT_RUNPATH, then the system's
// directories. LD_LIBRARY_PATH is the process's own, not known here.
func (s *Symbolizer) searchDirs(ef *elf.File, origin string) []string {
	var dirs []string
	paths, _ := ef.DynString(elf.DT_RUNPATH)
	if len(paths) == 0 {
		paths, _ = ef.DynString(elf.DT_RPATH)
	}
	for _, p := range paths {
		for _, d := range strings.Split(p, ":") {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			if filepath.IsAbs(d) {
				dirs = append(dirs, d)
			}
		}
	}
	if s.libDirs == nil {
		s.libDirs = append(readLdSoConf(ldSoConf, 0), defaultLibDirs...)
	}
	return append(dirs, s.libDirs...)
}

// readLdSoConf lists the directories of an ld.so.conf, following its
// include lines (globs), as ldconfig reads it.
func readLdSoConf(path string, depth int) []string {
	if depth > 8 { // an include loop
		return nil
	}
	f, err := OpenRegular(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if inc, ok := strings.CutPrefix(line, "include"); ok && (inc == "" || inc[0] == ' ' || inc[0] == '\t') {
			for _, pat := range strings.Fields(inc) {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(path), pat)
				}
				matches, _ := filepath.Glob(pat)
				for _, m := range matches {
					dirs = append(dirs, readLdSoConf(m, depth+1)...)
				}
			}
			continue
		}
		if filepath.IsAbs(line) {
			dirs = append(dirs, line)
		}
	}
	return dirs
}

// shebang is the interpreter a script's first line names ("#!/bin/sh -e").
func shebang(f *os.File) string {
	var b [256]byte
	n, _ := f.ReadAt(b[:], 0)
	line, ok := bytes.CutPrefix(b[:n], []byte("#!"))
	if !ok {
		return ""
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if fields := strings.Fields(string(line)); len(fields) > 0 && filepath.IsAbs(fields[0]) {
		return fields[0]
	}
	return ""
}

// byBuildID returns the file with a build ID, reading it now if it was
// only indexed; nil when no file is known by it or it cannot be read.
func (s *Symbolizer) byBuildID(id tracer.BuildID) *objEntry {
	e := s.byID[id]
	if e == nil {
		return nil
	}
	if e.pending {
		f, err := OpenRegular(e.path)
		if err != nil {
			e.pending, e.err = false, err
			s.mappings[e.key] = &Mapping{File: e.path}
			return nil
		}
		s.readIndexed(e, f)
		f.Close()
	}
	if e.obj == nil {
		return nil
	}
	return e
}

// readIndexed reads a file indexed by build ID alone, open as f; its
// addresses are the file's own (load bias 0).
func (s *Symbolizer) readIndexed(e *objEntry, f *os.File) {
	e.pending = false
	var st unix.Stat_t
	err := unix.Fstat(int(f.Fd()), &st)
	if err == nil && tracer.FileIDOfStat(&st) != e.key {
		err = fmt.Errorf("%s: file replaced or rewritten since it was indexed", e.path)
	}
	if err == nil {
		e.obj, err = openObject(e.path, f)
	}
	e.err = err
	mp := &Mapping{File: e.path}
	if e.obj != nil {
		mp.BuildID = e.obj.buildID
		mp.Symbolized = e.obj.hasSymbols()
		mp.Start, mp.Limit, mp.Offset = e.obj.execLo, e.obj.execHi, e.obj.execOff
	}
	s.mappings[e.key] = mp
}

// indexImage reads every file the image's process has mapped executable,
// so that their build IDs are known: for a sampled frame in a file no exec
// named (a library loaded with dlopen). Once per image, and once more with
// the map read again, for a library loaded since.
func (s *Symbolizer) indexImage(img *Image) error {
	maps, err := s.load(img)
	if err != nil {
		return err
	}
	img.mu.Lock()
	again := img.indexed
	img.indexed = true
	img.mu.Unlock()
	if again {
		var ok bool
		if maps, ok = s.reload(img); !ok {
			return nil
		}
	}
	for i := range maps {
		if m := &maps[i]; m.Exec && m.isFile() {
			s.object(img, m)
		}
	}
	return nil
}

// UserFrames symbolizes a sampled user stack (leaf first) of the image's
// process. Frames with a build ID are named from the indexed files, with
// no need of the process; bare addresses from the process's memory map,
// as User does. The error is ErrProcessGone when the stack needed the map
// (NeedsMap, or a build ID no indexed file has) and the process could not
// be read; those frames carry only their address.
func (s *Symbolizer) UserFrames(img *Image, stack []tracer.UserFrame) ([]Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	frames := make([]Frame, 0, len(stack))
	var maps []procMapping
	var mapsErr, err error
	mapsRead := false
	needsMap := NeedsMap(stack)
	for i, uf := range stack {
		caller := i > 0 // a return address: look up the call
		if !uf.BuildID.IsZero() {
			off := uf.Offset
			if caller && off > 0 {
				off--
			}
			e := s.byBuildID(uf.BuildID)
			if e == nil {
				if ierr := s.indexImage(img); ierr != nil {
					err = ierr
				}
				e = s.byBuildID(uf.BuildID)
			}
			if e == nil {
				frames = append(frames, Frame{Addr: off})
				continue
			}
			v, ok := e.obj.vaddr(off)
			if !ok {
				// Not in the file's code: a word past the end of a frame-pointer
				// walk, which the kernel placed in the next mapping up.
				frames = append(frames, Frame{Addr: off})
				continue
			}
			frames = s.named(e, v, Frame{Mapping: s.mappings[e.key]}, frames)
			continue
		}
		addr := uf.Addr
		if caller && addr > 0 {
			addr--
		}
		if !codeAddress(addr) {
			frames = append(frames, Frame{Addr: addr})
			continue
		}
		if !mapsRead {
			mapsRead = true
			// Beside frames with build IDs, an address is in no file with
			// one: the map, if the process still runs, only labels it.
			maps, mapsErr = s.load(img)
			if mapsErr != nil && needsMap {
				err = mapsErr
			}
		}
		frames = s.userAddr(img, &maps, mapsErr, addr, frames)
	}
	return frames, err
}

// NeedsMap tells a sampled stack that only its process's memory map can
// name: the kernel gave no frame a build ID (it could not take the mmap
// lock, held by the task itself in mmap, mprotect or execve; or it gives
// none) and one may be code. On a kernel that gives no build IDs, a
// process's first such sample wakes the reader (bpf sample_needs_map).
func NeedsMap(stack []tracer.UserFrame) bool {
	code := false
	for _, f := range stack {
		if !f.BuildID.IsZero() {
			return false
		}
		code = code || codeAddress(f.Addr)
	}
	return code
}

// codeAddress tells an address that may be code from the ends of
// frame-pointer walks through code built without them (0, words that are
// not user addresses), as bpf/spawntrace.bpf.c does.
func codeAddress(addr uint64) bool {
	return addr >= 4096 && addr < 1<<47
}
