package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Outputs are opened before the workload starts and written through the
// descriptor, never reopened by name: spawntrace runs as root around a
// workload that may own the directory an output goes to, and a name can
// be swapped for a symlink (to /etc/shadow, to a shell start-up file)
// while the workload runs. The last component of a name is never followed
// when it is a symlink, a file with other hard links is refused, and a
// --pprof directory must belong to root or to the user who ran sudo.

// outFile is one output, open for writing.
type outFile struct {
	flag    string // the option that named it, for messages
	name    string // as the user gave it, for messages
	f       *os.File
	dirFd   int // its directory: an O_PATH handle (openParent) or a --pprof directory
	base    string
	created bool // spawntrace made it (and so may remove it if unused)
	regular bool // a regular file: truncated once every output is known
	fifo    bool // a FIFO spawntrace opened: non-blocking, so a Ctrl-C can end a stalled write (interruptWrites)
	removed bool // unlinked again, unused (remove)
	dup     bool // a copy of one of spawntrace's own descriptors (ownFd), closed after use
	dev     uint64
	ino     uint64
}

// outDir is a --pprof directory, open as a handle that files are created
// relative to.
type outDir struct {
	name     string
	f        *os.File
	parentFd int // O_PATH handle of the directory holding it
	base     string
}

// outputSet holds every output of one command and the inputs it reads, so
// that one file cannot be both (`report -o run.json run.json`).
type outputSet struct {
	files   []*outFile
	dirs    []*outDir
	parents []int // O_PATH handles of the outputs' directories
	inputs  []fileID
}

type fileID struct {
	what     string // "-o x", "recording x": for messages
	dev, ino uint64
}

// stdStreams are the names that mean spawntrace's own stdout and stderr
// (symlinks into /proc on Linux, which O_NOFOLLOW would refuse).
var stdStreams = map[string]*os.File{"/dev/stdout": os.Stdout, "/dev/stderr": os.Stderr}

// file opens name for writing (see the top of this file). flag is the
// option it came from, for messages.
func (s *outputSet) file(flag, name string) (*outFile, error) {
	if std, ok := stdStreams[name]; ok {
		o := &outFile{flag: flag, name: name, f: std, dirFd: -1}
		s.files = append(s.files, o)
		return o, nil
	}
	if fd, ok := ownFd(name); ok {
		o, err := dupOut(fd, name)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, name, err)
		}
		o.flag = flag
		s.files = append(s.files, o)
		return o, nil
	}
	parent, base, err := openParent(name)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, name, err)
	}
	s.parents = append(s.parents, parent)
	return s.fileAt(parent, flag, base, name)
}

// ownFd says which of spawntrace's own descriptors name means: /dev/fd/N
// and /proc/self/fd/N, what a shell's process substitution (-o >(grep
// execve)) or a redirection (-o /dev/fd/3 3>file) passes. They are links
// into /proc, which openOut would refuse to follow; but the descriptor is
// one the user handed spawntrace, open before anything ran.
func ownFd(name string) (int, bool) {
	for _, prefix := range []string{"/dev/fd/", "/proc/self/fd/"} {
		if n, ok := strings.CutPrefix(name, prefix); ok {
			fd, err := strconv.Atoi(n)
			return fd, err == nil && fd >= 0 && strconv.Itoa(fd) == n
		}
	}
	return 0, false
}

// dupOut opens one of spawntrace's own descriptors as an output, as a copy
// that is closed after writing. Only one it was given: those it opens
// itself (a recording's spill file, read back for the report) are
// close-on-exec, inherited ones are not.
func dupOut(fd int, name string) (*outFile, error) {
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return nil, err
	} else if fl&unix.FD_CLOEXEC != 0 {
		return nil, errors.New("is not a descriptor spawntrace was given (open it in the shell: 3>file)")
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(nfd, &st); err != nil {
		unix.Close(nfd)
		return nil, err
	}
	if flags, err := unix.FcntlInt(uintptr(nfd), unix.F_GETFL, 0); err != nil || flags&unix.O_ACCMODE == unix.O_RDONLY {
		unix.Close(nfd)
		return nil, errors.New("is a descriptor not open for writing")
	}
	return &outFile{name: name, f: os.NewFile(uintptr(nfd), name), dirFd: -1, dup: true,
		regular: st.Mode&unix.S_IFMT == unix.S_IFREG, dev: st.Dev, ino: st.Ino}, nil
}

func (s *outputSet) fileAt(dirFd int, flag, base, display string) (*outFile, error) {
	o, err := openOut(dirFd, base, display)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, display, err)
	}
	o.flag = flag
	s.files = append(s.files, o)
	return o, nil
}

// maxSymlinkHops bounds the links followed to reach an output's
// directory, as the kernel's own 40 (ELOOP).
const maxSymlinkHops = 40

// openParent opens the directory that holds name's last component, as an
// O_PATH handle, walking the path one component at a time. A symlink on
// the way is followed only when it belongs to root, to spawntrace's own
// user or to the user who ran sudo: one another user planted (a directory
// of theirs swapped for a link to /etc) must not steer where root writes.
// The last component itself is never followed (openOut).
func openParent(name string) (fd int, base string, err error) {
	name = filepath.Clean(name)
	dir, base := filepath.Split(name)
	if base == "" || base == "." || base == ".." || base == "/" {
		return -1, "", errors.New("names a directory, not a file")
	}
	start := "."
	if filepath.IsAbs(name) {
		start = "/"
	}
	if fd, err = unix.Open(start, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return -1, "", err
	}
	todo := splitPath(dir)
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			fd = next
			continue
		}
		var st unix.Stat_t
		if (err != unix.ENOTDIR && err != unix.ELOOP) ||
			unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(fd)
			return -1, "", err
		}
		if !trustedOwner(int(st.Uid)) {
			unix.Close(fd)
			return -1, "", fmt.Errorf("%s on its way is a symbolic link that belongs to uid %d, not to root or to you: not followed (spawntrace runs as root)", c, st.Uid)
		}
		if hops++; hops > maxSymlinkHops {
			unix.Close(fd)
			return -1, "", unix.ELOOP
		}
		target, err := readlinkat(fd, c)
		if err != nil {
			unix.Close(fd)
			return -1, "", err
		}
		if filepath.IsAbs(target) {
			unix.Close(fd)
			if fd, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return -1, "", err
			}
		}
		todo = append(splitPath(target), todo...)
	}
	return fd, base, nil
}

// splitPath lists a path's components, without empty ones and ".".
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func readlinkat(dirFd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirFd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func openOut(dirFd int, base, display string) (*outFile, error) {
	o := &outFile{name: display, dirFd: dirFd, base: base}
	var fd int
	for attempt := 0; ; attempt++ {
		var err error
		fd, err = unix.Openat(dirFd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			o.created = true
			break
		}
		if err != unix.EEXIST {
			return nil, describeOpenErr(err)
		}
		// There already: open it as it is, without creating, following or
		// blocking (a FIFO with no reader fails with ENXIO at once).
		fd, err = unix.Openat(dirFd, base, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err == nil {
			break
		}
		if err == unix.ENOENT && attempt < 3 {
			continue // removed in between: try to create it again
		}
		return nil, describeOpenErr(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	o.dev, o.ino = st.Dev, st.Ino
	// A second name for a file (or a device node) is how another user's
	// directory could hold one of root's files.
	if st.Nlink > 1 {
		unix.Close(fd)
		return nil, fmt.Errorf("has %d hard links: refusing to write to it (spawntrace runs as root)", st.Nlink)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		o.regular = true
	case unix.S_IFIFO:
		// A FIFO with a reader: written as is. It stays non-blocking, so
		// that Go's poller waits for its reader and a deadline can end
		// the wait: a reader that holds it open and never reads (the
		// workload, in a directory it owns) would block write(2) for good.
		o.fifo = true
	case unix.S_IFCHR:
		// A terminal, /dev/null: written as is. Writes block again, as
		// to any file.
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return nil, err
		}
	default:
		unix.Close(fd)
		return nil, errors.New("not a regular file, a FIFO or a character device")
	}
	o.f = os.NewFile(uintptr(fd), display)
	if o.created {
		giveToInvoker(o.f)
	}
	return o, nil
}

func describeOpenErr(err error) error {
	switch err {
	case unix.ELOOP:
		return errors.New("is a symbolic link: spawntrace does not write through one (it runs as root)")
	case unix.ENXIO:
		return errors.New("is a FIFO with no reader: start its reader first")
	case unix.EISDIR:
		return errors.New("is a directory")
	}
	return err
}

// dir opens (making it if needed) a --pprof directory.
func (s *outputSet) dir(flag, name string) (*outDir, error) {
	d, err := openOutDir(name)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, name, err)
	}
	s.dirs = append(s.dirs, d)
	return d, nil
}

func openOutDir(name string) (*outDir, error) {
	parent, base, err := openParent(name)
	if err != nil {
		return nil, err
	}
	d := &outDir{name: name, parentFd: parent, base: base}
	created := false
	if err := unix.Mkdirat(parent, base, 0o755); err == nil {
		created = true
	} else if err != unix.EEXIST {
		unix.Close(parent)
		return nil, err
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		defer unix.Close(parent)
		if err == unix.ELOOP || err == unix.ENOTDIR {
			var st unix.Stat_t
			if unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return nil, errors.New("is a symbolic link: spawntrace does not write through one (it runs as root)")
			}
			return nil, errors.New("not a directory")
		}
		return nil, err
	}
	d.f = os.NewFile(uintptr(fd), name)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		d.close()
		return nil, err
	}
	if !trustedOwner(int(st.Uid)) {
		d.close()
		return nil, fmt.Errorf("belongs to uid %d, not to root or to you: its files could be swapped under spawntrace (it runs as root)", st.Uid)
	}
	if created {
		giveToInvoker(d.f)
	}
	return d, nil
}

func (d *outDir) close() {
	d.f.Close()
	unix.Close(d.parentFd)
}

// trustedOwner: a directory spawntrace writes profiles into must belong to
// root, to spawntrace's own user or to the user who ran sudo.
func trustedOwner(uid int) bool {
	if uid == 0 || uid == os.Geteuid() {
		return true
	}
	inv, _, ok := invoker()
	return ok && uid == inv
}

// in opens name inside the --pprof directory d.
func (s *outputSet) in(d *outDir, flag, name string) (*outFile, error) {
	return s.fileAt(int(d.f.Fd()), flag, name, filepath.Join(d.name, name))
}

// input records a file the command reads, which no output may be.
func (s *outputSet) input(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	s.inputs = append(s.inputs, fileID{what: "the recording " + f.Name(), dev: st.Dev, ino: st.Ino})
	return nil
}

// ready refuses one file given twice (as two outputs, or as an output and
// an input) and only then truncates the regular files that were already
// there: a refused command leaves every file as it was.
func (s *outputSet) ready() error {
	seen := append([]fileID(nil), s.inputs...)
	for _, o := range s.files {
		if !o.regular {
			continue // a device, a FIFO, spawntrace's own stdout: /dev/null may well be named twice
		}
		for _, prev := range seen {
			if prev.dev == o.dev && prev.ino == o.ino {
				return fmt.Errorf("%s and %s %s are the same file: give each output its own", prev.what, o.flag, o.name)
			}
		}
		seen = append(seen, fileID{what: o.flag + " " + o.name, dev: o.dev, ino: o.ino})
	}
	for _, o := range s.files {
		if o.regular && !o.created && !o.dup { // a descriptor is as its opener left it (3>>file appends)
			if err := o.f.Truncate(0); err != nil {
				return fmt.Errorf("%s: %w", o.name, err)
			}
		}
	}
	return nil
}

// abandon removes what spawntrace created when it stops before writing
// anything (the command was not found, BPF did not load): a name is
// unlinked only while it still names the file spawntrace made.
func (s *outputSet) abandon() {
	for _, o := range s.files {
		if o.created {
			o.remove()
		}
	}
	s.close()
}

// remove unlinks an output spawntrace created and did not use (cpu.pb.gz
// of a run without samples).
func (o *outFile) remove() {
	var st unix.Stat_t
	if unix.Fstatat(o.dirFd, o.base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Dev == o.dev && st.Ino == o.ino {
		o.removed = unix.Unlinkat(o.dirFd, o.base, 0) == nil
	}
}

// errInterrupted marks an output left incomplete by a Ctrl-C while its
// reader was not reading (interruptWrites): the other outputs go on.
var errInterrupted = errors.New("interrupted while its reader was not reading: left incomplete")

// write renders fn into the output and closes it.
func (o *outFile) write(fn func(w io.Writer) error) error {
	err := fn(o.f)
	if o.base != "" || o.dup {
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		o.f = nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", o.flag, o.name, errInterrupted)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	return nil
}

// interruptWrites lets a SIGINT, SIGTERM or SIGHUP end the writes to the
// FIFO outputs, whose readers may never read, until stop is called; a
// second signal does what it does to any program. Without FIFO outputs
// nothing can stall, and signals keep their default.
func (s *outputSet) interruptWrites() (stop func()) {
	var fifos []*os.File
	for _, o := range s.files {
		if o.fifo && o.f != nil {
			fifos = append(fifos, o.f)
		}
	}
	if len(fifos) == 0 {
		return func() {}
	}
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			for _, f := range fifos {
				f.SetWriteDeadline(time.Now()) // an error only for a file closed already
			}
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// replaced says whether the output's name no longer leads to the file
// spawntrace wrote (the workload renamed or replaced it meanwhile).
func (o *outFile) replaced() bool {
	if o.base == "" || o.removed {
		return false
	}
	var st unix.Stat_t
	err := unix.Fstatat(o.dirFd, o.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return err != nil || st.Dev != o.dev || st.Ino != o.ino
}

func (s *outputSet) close() {
	for _, o := range s.files {
		if o.f != nil && (o.base != "" || o.dup) {
			o.f.Close()
		}
	}
	for _, d := range s.dirs {
		d.close()
	}
	for _, fd := range s.parents {
		unix.Close(fd)
	}
	s.files, s.dirs, s.parents = nil, nil, nil
}

// warnReplaced says which outputs' names no longer lead to what spawntrace
// wrote: the workload (or someone) renamed or replaced them meanwhile, and
// spawntrace did not follow.
func (s *outputSet) warnReplaced(stderr io.Writer) {
	for _, o := range s.files {
		if o.replaced() {
			fmt.Fprintf(stderr, "spawntrace: warning: %s was replaced while spawntrace ran: what it wrote went to the file it had opened, no longer at that name\n", o.name)
		}
	}
	for _, d := range s.dirs {
		var st, was unix.Stat_t
		if unix.Fstat(int(d.f.Fd()), &was) != nil {
			continue
		}
		if err := unix.Fstatat(d.parentFd, d.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Dev != was.Dev || st.Ino != was.Ino {
			fmt.Fprintf(stderr, "spawntrace: warning: %s was replaced while spawntrace ran: the profiles went to the directory it had opened, no longer at that name\n", d.name)
		}
	}
}
