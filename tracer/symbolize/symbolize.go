// Package symbolize names the addresses of stacks while their processes
// are alive: ELF symbols, GNU and Go build IDs, the Go pclntab, separate
// debug files, /proc/PID/maps and /proc/kallsyms. It reads files and /proc
// only, never BPF: it lives beside package tracer, whose plain stack types
// (tracer.UserFrame, tracer.BuildID) it takes, and the tracer never needs it.
package symbolize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// Frame is one symbolized stack frame.
type Frame struct {
	// Addr is the address looked up: a caller's return address minus one
	// (inside its call instruction), the leaf's own address. User
	// addresses are rebased to Mapping's, so one file has one address
	// space across processes.
	Addr uint64
	Func string // "" when no symbol covers Addr
	File string // source file and line, when the binary says (Go)
	Line int
	// Mapping is the file Addr falls in; nil for anonymous memory and for
	// addresses of a process that could no longer be read.
	Mapping *Mapping
	Kernel  bool
	// Inlined marks a call the compiler inlined into the next frame,
	// which has the same Addr.
	Inlined bool
}

// Mapping is a file whose code appears in stacks: a program, a shared
// library, or the kernel. Start..Limit and Offset are those of its
// executable segments as mapped in the first process they were seen in
// (or the file's own addresses when a sampled frame read it by build ID
// first); frames of other processes are rebased to them.
type Mapping struct {
	File    string
	BuildID string
	Start   uint64
	Limit   uint64
	Offset  uint64
	Kernel  bool
	// Symbolized is true when the file could be read at record time, so a
	// frame without a name there has no symbol to find.
	Symbolized bool
}

// KernelMappingName is the pseudo-file of kernel frames, as perf names it.
const KernelMappingName = "[kernel.kallsyms]"

// Image is one address space of a process, from one exec (or fork) to the
// next. Its memory map is read from /proc when first needed, so a handle
// taken while the process is alive costs nothing until a stack uses it.
type Image struct {
	pid uint32
	id  uint64 // unique to the image in its Symbolizer: the unwind memo's key
	// procs counts the processes whose current image it is (guarded by
	// s.imu, read by the unwind memo): at 0 its memoized unwinds go.
	procs  atomic.Int32
	mu     sync.Mutex // guards the rest
	loaded bool
	maps   []procMapping
	err    error
	// exe is /proc/PID/exe's file as of the last read of maps: its inode
	// tells a later exec, its version is its mappings'.
	exe tracer.FileID
	// reloaded is set once the map has been read again for an address it
	// lacked (a library loaded after the first read).
	reloaded bool
	// indexed is set once the files of the map have been indexed by build
	// ID, for a sampled frame in a file the index lacked (indexImage).
	indexed bool
	// readNs is when the map was last read (CLOCK_MONOTONIC); refreshed
	// is set once LoadSince has read it again.
	readNs    uint64
	refreshed bool
	// mapsGen counts the reads of maps: an unwind memoized under one
	// generation is not reused under another.
	mapsGen uint32
	// vdso is its [vdso]'s image, read with the map while the process
	// lives, until the symbolizer has a 32-bit one (vdsoEarly).
	vdso []byte
	// readPid is the process whose map was read: pid, or a child sharing
	// the image since a fork whose own spawn read it (the parent may have
	// exited or exec'd by then); readSinceNs the spawn's time it was
	// checked against (SameProgram), 0 when unchecked (setMain's read).
	readPid     uint32
	readSinceNs uint64
	// gonePid is a process whose read failed (exited, exec'd): its later
	// stacks are not read again.
	gonePid uint32
}

// Pid is the process the image belongs to.
func (img *Image) Pid() uint32 { return img.pid }

// mapPid is the process whose map the image holds (img.mu not held).
func (img *Image) mapPid() uint32 {
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.readPid != 0 {
		return img.readPid
	}
	return img.pid
}

// ProgramCheck says whether process pid still runs the program it ran at
// sinceNs (CLOCK_MONOTONIC), when its spawn at sinceNs had a stack that
// needs its memory map; known is false when that cannot be told
// (tracer.Tracer.SameProgram).
type ProgramCheck func(pid uint32, sinceNs uint64) (same, known bool)

// Symbolizer turns raw stack addresses into function names while the
// processes are alive: /proc/PID/maps locates each address in a file, the
// file's ELF symbols or Go pclntab name it, /proc/kallsyms names kernel
// addresses. Frames the kernel gave as build ID and file offset (CPU
// samples) need no process: an index of build IDs, filled from every file
// seen mapped or exec'd, finds the file. Files are read once, keyed by
// device, inode and version (tracer.FileID): a program rewritten in place
// is read again, not taken for the one seen before. Safe for concurrent
// use; Fork, Exec and Exit follow the processes in the order their events
// arrive, and stacks are resolved against the Image that was current when
// they were taken. Image, Fork,
// Exec, Exit and Load never wait for a file being read, so a ring-buffer
// reader may call them.
type Symbolizer struct {
	procRoot string // "/proc"; tests point it elsewhere

	imu    sync.Mutex // guards images
	images map[uint32]imageRef

	mu    sync.Mutex // guards the files and caches below
	files map[tracer.FileID]*objEntry
	byID  map[tracer.BuildID]*objEntry // files with a GNU build ID, however found
	// execsIndexed holds the programs IndexExec indexed, by the kernel's
	// name for them (that of their exec events).
	execsIndexed map[tracer.FileID]bool
	libDirs      []string // the dynamic loader's system directories, once read
	mappings     map[tracer.FileID]*Mapping
	special      map[string]*Mapping // [vdso] and the like, by name
	cache        map[addrKey][]symInfo
	kernel       *kallsyms
	kmap         *Mapping
	kerr         error
	cfi          *unwind.Cache[tracer.FileID] // call frame information, for Unwind; made on first use
	vdso         map[vdsoKey]vdsoImage        // the vDSO's, by mode, read from a process's memory

	// check, when set, tells a map read late from one of another program
	// (SetProgramCheck).
	check ProgramCheck

	lastImageID atomic.Uint64
	have32VDSO  atomic.Bool   // a 32-bit vDSO image is in vdso: none is read early any more
	memo        unwindMemo    // of Unwind's results, by call site
	unwindWords []unwind.Word // Unwind's, reused; guarded by mu
}

type objEntry struct {
	obj *objFile
	err error
	// canonical load bias: the first process's; others are rebased to it.
	// 0 for a file first read through the build-ID index.
	bias uint64
	key  tracer.FileID
	// path is where the file was found when it was indexed by build ID
	// alone (exec'd, or needed by a program that was): pending until a
	// frame falls in it, then read from there.
	path    string
	pending bool
	// depsIndexed: the interpreter and libraries it names are indexed too.
	depsIndexed bool
}

type addrKey struct {
	file tracer.FileID
	v    uint64 // virtual address in the file
}

type symInfo struct {
	fn, file string
	line     int
}

// NewSymbolizer makes an empty symbolizer.
func NewSymbolizer() *Symbolizer {
	return &Symbolizer{
		procRoot:     "/proc",
		images:       map[uint32]imageRef{},
		files:        map[tracer.FileID]*objEntry{},
		byID:         map[tracer.BuildID]*objEntry{},
		execsIndexed: map[tracer.FileID]bool{},
		mappings:     map[tracer.FileID]*Mapping{},
		special:      map[string]*Mapping{},
		cache:        map[addrKey][]symInfo{},
	}
}

// SetProgramCheck makes the maps read for spawn stacks (LoadSince, LoadAt)
// checked with c after each read: a process that exec'd after its spawn
// and before the read would otherwise lend its stack the new program's
// map, and wrong frames. Before the first use.
func (s *Symbolizer) SetProgramCheck(c ProgramCheck) { s.check = c }

// Image returns pid's current address space, making one if none is known.
func (s *Symbolizer) Image(pid uint32) *Image {
	s.imu.Lock()
	defer s.imu.Unlock()
	return s.imageLocked(pid)
}

// imageRef is a process's current image and since when it has it
// (CLOCK_MONOTONIC ns, the clock of event times).
type imageRef struct {
	img     *Image
	sinceNs uint64
}

// monoBase is a CLOCK_MONOTONIC reading and the time.Time taken right
// after it, whose monotonic part is the runtime's CLOCK_MONOTONIC read
// through the vDSO: monoNow then makes no syscall (unix.ClockGettime is
// one), which, on the ring-buffer reader's goroutine for every exec, woke
// the Go runtime's sysmon thread into polling.
var monoBase = func() (b struct {
	ns uint64
	at time.Time
}) {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	b.ns, b.at = uint64(ts.Nano()), time.Now()
	return b
}()

// monoNow is CLOCK_MONOTONIC, the clock of the events' times.
func monoNow() uint64 {
	return monoBase.ns + uint64(time.Since(monoBase.at))
}

func (s *Symbolizer) imageLocked(pid uint32) *Image {
	r, ok := s.images[pid]
	if !ok {
		// Read lazily, so it shows the process as it is from now on.
		r = imageRef{img: s.newImage(pid), sinceNs: monoNow()}
		s.images[pid] = r
	}
	return r.img
}

// Fork notes that child was made at timeNs by copying parent's address
// space (fork, not a thread): until it execs, its addresses mean what the
// parent's did.
func (s *Symbolizer) Fork(parent, child uint32, timeNs uint64) {
	s.imu.Lock()
	defer s.imu.Unlock()
	img := s.imageLocked(parent)
	if old := s.images[child].img; old != img {
		img.procs.Add(1)
		s.release(old)
	}
	s.images[child] = imageRef{img: img, sinceNs: timeNs}
}

// Exec notes that pid replaced its address space at timeNs. An image the
// process got after that moment (one made for it since) is kept.
func (s *Symbolizer) Exec(pid uint32, timeNs uint64) {
	s.imu.Lock()
	defer s.imu.Unlock()
	if r, ok := s.images[pid]; ok && r.sinceNs > timeNs {
		return
	}
	s.release(s.images[pid].img)
	s.images[pid] = imageRef{img: s.newImage(pid), sinceNs: monoNow()}
}

// newImage makes an image of pid, the current one of pid alone; s.imu is
// held.
func (s *Symbolizer) newImage(pid uint32) *Image {
	img := &Image{pid: pid, id: s.lastImageID.Add(1)}
	img.procs.Store(1)
	return img
}

// release notes that a process no longer has img (nil: had none); s.imu is
// held. Its memoized unwinds go with its last process: no stack of it can
// be taken any more.
func (s *Symbolizer) release(img *Image) {
	if img != nil && img.procs.Add(-1) == 0 {
		s.memo.drop(img.id)
	}
}

// Exit forgets pid; images already handed out stay usable.
func (s *Symbolizer) Exit(pid uint32) {
	s.imu.Lock()
	defer s.imu.Unlock()
	s.release(s.images[pid].img)
	delete(s.images, pid)
}

// Load reads the image's memory map now, while the process is alive (a
// process that execs and exits within milliseconds would be gone by the
// time a stack of it is symbolized otherwise).
func (s *Symbolizer) Load(img *Image) error {
	_, err := s.load(img)
	return err
}

// MapRead is a process's memory map read ahead of the image it becomes
// (ReadMapsWhen, LoadRead).
type MapRead struct {
	maps   []procMapping
	exe    tracer.FileID
	readNs uint64
	err    error
}

// ReadMapsWhen reads pid's memory map, pause apart and polls times at
// most, until ready accepts the files it maps executable (their base
// names), and returns the last read: a process just exec'd, whose dynamic
// loader is still mapping its libraries. An error ends the reads.
func (s *Symbolizer) ReadMapsWhen(pid uint32, ready func(execFiles []string) bool, polls int, pause time.Duration) *MapRead {
	var r MapRead
	for i := range max(polls, 1) {
		if i > 0 {
			time.Sleep(pause)
		}
		r.readNs = monoNow()
		r.maps, r.exe, r.err = s.readMaps(pid)
		if r.err != nil {
			break
		}
		var names []string
		for _, m := range r.maps {
			if m.Exec && m.isFile() {
				names = append(names, filepath.Base(m.Path))
			}
		}
		if ready(names) {
			break
		}
	}
	return &r
}

// LoadRead makes r img's map, as if Load had read it then, unless img has
// one already.
func (s *Symbolizer) LoadRead(img *Image, r *MapRead) {
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.loaded {
		return
	}
	img.loaded = true
	img.maps, img.exe, img.err, img.readNs = r.maps, r.exe, r.err, r.readNs
	img.readPid = img.pid
	img.mapsGen++
	img.vdso = s.vdsoEarly(img.pid, img.maps)
}

// ErrProcessGone is returned when a stack's process could not be read:
// it exited (or exec'd) before its stack was symbolized.
var ErrProcessGone = errors.New("process no longer readable")

// load reads the image's memory map, once, and returns it.
func (s *Symbolizer) load(img *Image) ([]procMapping, error) {
	img.mu.Lock()
	defer img.mu.Unlock()
	if !img.loaded {
		img.loaded = true
		img.readNs = monoNow()
		img.maps, img.exe, img.err = s.readMaps(img.pid)
		img.readPid = img.pid
		img.mapsGen++
		img.vdso = s.vdsoEarly(img.pid, img.maps)
	}
	return img.maps, img.err
}

// LoadSince reads the image's map now, as Load does, or again if it was
// read before sinceNs (CLOCK_MONOTONIC): a stack taken at sinceNs may run
// through libraries mapped after that read (dlopen; the workload's map,
// read as its exec returns, may predate its libraries). Read again once
// per image at most, from pid, the process whose stack was taken at
// sinceNs: an image shared since a fork is the child's too, and the
// parent may be gone. A read is kept only while pid runs the image's
// program (SetProgramCheck; the same /proc/PID/exe for a read again).
// The error (ErrProcessGone) says no map of the moment could be read: the
// process had exited or exec'd; a map read before, if any, stays.
func (s *Symbolizer) LoadSince(img *Image, pid uint32, sinceNs uint64) error {
	return s.loadFor(img, pid, sinceNs, true)
}

// LoadAt is LoadSince without the read again: a map read before sinceNs
// will do (stacks of bare addresses, named from it as they come).
func (s *Symbolizer) LoadAt(img *Image, pid uint32, sinceNs uint64) error {
	return s.loadFor(img, pid, sinceNs, false)
}

func (s *Symbolizer) loadFor(img *Image, pid uint32, sinceNs uint64, again bool) error {
	img.mu.Lock()
	defer img.mu.Unlock()
	usable := img.loaded && img.err == nil
	if usable && (!again || img.refreshed || img.readNs >= sinceNs) {
		return nil
	}
	if pid == img.gonePid {
		return fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	readNs := monoNow()
	maps, exe, err := s.readMaps(pid)
	if err == nil && s.check != nil {
		if same, known := s.check(pid, sinceNs); known && !same {
			err = fmt.Errorf("pid %d exec'd or exited since its spawn: %w", pid, ErrProcessGone)
		}
	}
	if err == nil && usable && exe.Inode() != img.exe.Inode() {
		err = fmt.Errorf("pid %d exec'd: %w", pid, ErrProcessGone)
	}
	if err != nil {
		img.gonePid = pid
		if !img.loaded {
			// Not read lazily later either (load): by then the process
			// may run another program. Another process sharing the image
			// may still read it.
			img.loaded, img.err, img.readNs = true, err, readNs
		}
		return err
	}
	img.refreshed = usable
	img.loaded, img.maps, img.exe, img.err, img.readNs = true, maps, exe, nil, readNs
	img.readPid, img.readSinceNs = pid, sinceNs
	if img.vdso == nil {
		img.vdso = s.vdsoEarly(pid, maps)
	}
	img.mapsGen++
	return nil
}

func (s *Symbolizer) readMaps(pid uint32) ([]procMapping, tracer.FileID, error) {
	dir := s.procRoot + "/" + strconv.FormatUint(uint64(pid), 10)
	var exe tracer.FileID
	var st unix.Stat_t
	if err := unix.Stat(dir+"/exe", &st); err == nil {
		exe = tracer.FileIDOfStat(&st)
	}
	f, err := os.Open(dir + "/maps")
	if err != nil {
		return nil, exe, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	defer f.Close()
	maps, err := parseMaps(f)
	if errors.Is(err, unix.ESRCH) { // it exited between the open and the read
		return nil, exe, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	if err != nil {
		return nil, exe, fmt.Errorf("pid %d: %w", pid, err)
	}
	if len(maps) == 0 { // a zombie's maps are empty
		return nil, exe, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	for i := range maps {
		// The executable's version, from the stat just made, spares its
		// mappings one each (mappedFile).
		if m := &maps[i]; !exe.IsZero() && m.inode() == exe.Inode() {
			m.file = exe
		}
	}
	return maps, exe, nil
}

// reload reads the map again for an address it lacked, once per image,
// and only while the process still runs the same program.
func (s *Symbolizer) reload(img *Image) ([]procMapping, bool) {
	s.imu.Lock()
	current := s.images[img.pid].img == img
	s.imu.Unlock()
	img.mu.Lock()
	defer img.mu.Unlock()
	if !current || img.reloaded || img.err != nil {
		return nil, false
	}
	img.reloaded = true
	pid := img.readPid
	if pid == 0 {
		pid = img.pid
	}
	maps, exe, err := s.readMaps(pid)
	if err != nil || exe.Inode() != img.exe.Inode() {
		return nil, false
	}
	if img.readSinceNs != 0 && s.check != nil {
		if same, known := s.check(pid, img.readSinceNs); known && !same {
			return nil, false
		}
	}
	img.maps, img.exe = maps, exe
	img.mapsGen++
	return maps, true
}

// User symbolizes a user stack (leaf first) of the image's process; an
// address in inlined code gives a frame per inlined call. The error is
// ErrProcessGone when the process could not be read at all; then the
// frames carry only addresses.
func (s *Symbolizer) User(img *Image, stack []uint64) ([]Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user(img, stack)
}

// user is User with s.mu held.
func (s *Symbolizer) user(img *Image, stack []uint64) ([]Frame, error) {
	frames := make([]Frame, 0, len(stack))
	maps, err := s.load(img)
	for i, addr := range stack {
		if i > 0 && addr > 0 {
			addr-- // a return address: look up the call
		}
		frames = s.userAddr(img, &maps, err, addr, frames)
	}
	return frames, err
}

// userAddr names the address addr of the image, whose map is *maps (or
// could not be read: mapsErr), and appends its frames.
func (s *Symbolizer) userAddr(img *Image, maps *[]procMapping, mapsErr error, addr uint64, frames []Frame) []Frame {
	fr := Frame{Addr: addr}
	var m *procMapping
	if mapsErr == nil {
		if m = findMapping(*maps, addr); m == nil {
			if again, ok := s.reload(img); ok {
				*maps = again
				m = findMapping(again, addr)
			}
		}
	}
	if m == nil {
		return append(frames, fr)
	}
	return s.resolveUser(img, m, fr, frames)
}

// MainMapping returns the mapping of the image's executable (what
// /proc/PID/exe names), reading the file if no stack has yet.
func (s *Symbolizer) MainMapping(img *Image) (*Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maps, err := s.load(img)
	if err != nil {
		return nil, err
	}
	img.mu.Lock()
	exe := img.exe
	img.mu.Unlock()
	for i := range maps {
		m := &maps[i]
		if m.Exec && m.isFile() && m.inode() == exe.Inode() {
			e := s.object(img, m)
			if e.err != nil {
				return nil, e.err
			}
			return s.mappings[e.key], nil
		}
	}
	return nil, fmt.Errorf("pid %d: executable not found in its memory map", img.pid)
}

// resolveUser names the user frame fr inside mapping m of the image and
// appends it (with its inlined calls) to frames.
func (s *Symbolizer) resolveUser(img *Image, m *procMapping, fr Frame, frames []Frame) []Frame {
	if !m.Exec {
		// Not code (a locale file, the heap): a return address a
		// frame-pointer walk read through code without frame pointers.
		// Named after the mapping, it would send pprof to symbolize a
		// data file ("Local symbolization failed for LC_CTYPE").
		return append(frames, fr)
	}
	if !m.isFile() {
		if m.Path != "" && m.Path[0] == '[' { // [vdso], [heap]...
			fr.Mapping = s.specialMapping(m)
		}
		if m.Path == "[vdso]" && m.Inode == 0 {
			fr.Func = s.vdsoFunc(m, fr.Addr)
		}
		return append(frames, fr)
	}
	e := s.object(img, m)
	fr.Mapping = s.mappings[e.key]
	if e.obj == nil { // unreadable: rebase by file offset alone
		fr.Addr = fr.Addr - (m.Start - m.Offset) + e.bias
		return append(frames, fr)
	}
	v := fr.Addr - e.obj.bias(m) // the file's virtual address
	return s.named(e, v, fr, frames)
}

// named gives fr, at the virtual address v of e's file, its canonical
// address and names, and appends it with its inlined calls to frames.
func (s *Symbolizer) named(e *objEntry, v uint64, fr Frame, frames []Frame) []Frame {
	fr.Addr = v + e.bias
	key := addrKey{e.key, v}
	infos, ok := s.cache[key]
	if !ok {
		infos = e.obj.symbols(v)
		s.cache[key] = infos
	}
	if len(infos) == 0 {
		return append(frames, fr)
	}
	for i, info := range infos {
		f := fr
		f.Func, f.File, f.Line = info.fn, info.file, info.line
		f.Inlined = i < len(infos)-1
		frames = append(frames, f)
	}
	return frames
}

// object reads the file behind a mapping once (each version of it), and
// makes its Mapping.
func (s *Symbolizer) object(img *Image, m *procMapping) *objEntry {
	k := s.mappedFile(img.pid, m)
	e := s.files[k]
	if e != nil && !e.pending {
		return e
	}
	var obj *objFile
	f, err := s.openMapped(img.mapPid(), m)
	if err == nil {
		obj, err = openObject(m.Path, f)
		f.Close()
	}
	if obj != nil && obj.gnuID != nil {
		// The same file seen before under another device and inode (an
		// overlay shows the lower file's in maps) or read by build ID.
		if known := s.byID[*obj.gnuID]; known != nil && !known.pending && known.obj != nil {
			s.files[k] = known
			s.mappings[k] = s.mappings[known.key]
			return known
		}
	}
	if e == nil {
		e = &objEntry{key: k}
		s.files[k] = e
	}
	e.pending, e.obj, e.err = false, obj, err
	mp := &Mapping{File: m.Path}
	if e.obj != nil {
		e.bias = e.obj.bias(m)
		mp.BuildID = e.obj.buildID
		mp.Symbolized = e.obj.hasSymbols()
		mp.Start, mp.Limit, mp.Offset = e.obj.execLo+e.bias, e.obj.execHi+e.bias, e.obj.execOff
		if e.obj.gnuID != nil {
			s.byID[*e.obj.gnuID] = e
		}
	} else {
		mp.Start, mp.Limit, mp.Offset = m.Start, m.End, m.Offset
		e.bias = m.Start - m.Offset
	}
	s.mappings[k] = mp
	return e
}

// mappedPaths are where the file a process has mapped may be found:
// /proc/PID/map_files (the very file, even if deleted or in another mount
// namespace), then the path under /proc/PID/root, then the path itself.
func (s *Symbolizer) mappedPaths(pid uint32, m *procMapping) [3]string {
	dir := s.procRoot + "/" + strconv.FormatUint(uint64(pid), 10)
	return [3]string{fmt.Sprintf("%s/map_files/%x-%x", dir, m.Start, m.End), dir + "/root" + m.Path, m.Path}
}

// mappedFile is the file behind mapping m of pid with its version,
// which its maps line does not say: the executable's was read with the map
// (readMaps), another file's is that of the first of mappedPaths that
// stat(2) finds with the line's inode, once per mapping.
// Only the inode when none does (the process and the file are gone): then
// no file is opened for it (openMapped), as none can be told to be the
// one mapped.
func (s *Symbolizer) mappedFile(pid uint32, m *procMapping) tracer.FileID {
	if !m.file.IsZero() {
		return m.file
	}
	m.file = m.inode()
	for _, p := range s.mappedPaths(pid, m) {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			if id := tracer.FileIDOfStat(&st); id.Inode() == m.inode() {
				m.file = id
				break
			}
		}
	}
	return m.file
}

// openMapped opens the file a process has mapped from the first of
// mappedPaths that holds it, that version of it (mappedFile).
func (s *Symbolizer) openMapped(pid uint32, m *procMapping) (*os.File, error) {
	file := s.mappedFile(pid, m)
	var firstErr error
	for _, p := range s.mappedPaths(pid, m) {
		f, err := OpenRegular(p)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err == nil && tracer.FileIDOfStat(&st) == file {
			return f, nil
		}
		f.Close()
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s: file replaced or rewritten since it was mapped", m.Path)
	}
	return nil, firstErr
}

func (s *Symbolizer) specialMapping(m *procMapping) *Mapping {
	mp := s.special[m.Path]
	if mp == nil {
		mp = &Mapping{File: m.Path, Start: m.Start, Limit: m.End, Offset: m.Offset}
		s.special[m.Path] = mp
	}
	return mp
}

// Kernel symbolizes a kernel stack (leaf first) with /proc/kallsyms, read
// on first use.
func (s *Symbolizer) Kernel(stack []uint64) ([]Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kernel == nil && s.kerr == nil {
		s.loadKallsyms()
	}
	frames := make([]Frame, len(stack))
	for i, addr := range stack {
		if i > 0 && addr > 0 {
			addr--
		}
		frames[i] = Frame{Addr: addr, Kernel: true, Mapping: s.kmap}
		if s.kernel == nil {
			continue
		}
		if sym, ok := s.kernel.lookup(addr); ok {
			frames[i].Func = sym.Name
		}
	}
	return frames, s.kerr
}

// LoadKernel reads /proc/kallsyms now rather than at the first kernel
// stack: ~80 ms of CPU (half of it the kernel's, writing the file) that
// would otherwise be taken from a workload it is profiling.
func (s *Symbolizer) LoadKernel() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kernel == nil && s.kerr == nil {
		s.loadKallsyms()
	}
	return s.kerr
}

func (s *Symbolizer) loadKallsyms() {
	f, err := os.Open(s.procRoot + "/kallsyms")
	if err != nil {
		s.kerr = fmt.Errorf("reading kernel symbols: %w", err)
		return
	}
	defer f.Close()
	k, err := parseKallsyms(f)
	if err == nil && len(k.syms) == 0 {
		err = errors.New("/proc/kallsyms shows no addresses (kernel.kptr_restrict)")
	}
	if err != nil {
		s.kerr = fmt.Errorf("reading kernel symbols: %w", err)
		return
	}
	s.kernel = k
	s.kmap = &Mapping{File: KernelMappingName, Kernel: true, Symbolized: true, Start: k.text, Limit: k.etext}
	if s.kmap.Limit <= s.kmap.Start && len(k.syms) > 0 {
		s.kmap.Start, s.kmap.Limit = k.syms[0].Addr, k.syms[len(k.syms)-1].Addr+1
	}
}
