package symbolize

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// unwindCacheBytes bounds the CFI kept of the files seen in stacks:
// glibc's .eh_frame and .eh_frame_hdr are ~180 KiB, a large C++ program's
// a few MiB.
const unwindCacheBytes = 32 << 20

// Unwind walks a user stack copied at a syscall (regs, and the stack's
// bytes from regs.SP up) by the call frame information of the files the
// image's process has mapped, appending its addresses to dst[:0]: the
// leaf's IP, then return addresses, as User takes them. The files are
// opened as for symbols (openMapped) and their CFI kept, within a memory
// budget, by file (tracer.FileID). A stack taken again at a call site of the
// image, under the same registers and with the same words where the last
// unwind there read, gets that unwind's result (unwindMemo).
func (s *Symbolizer) Unwind(img *Image, regs unwind.Regs, stack []byte, dst []uint64) unwind.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, _, _ := s.unwind(img, regs, stack, dst, false)
	return res
}

// UnwindUser is Unwind, then User of its PCs. The frames are memoized
// with the unwind, as long as the image's map is the one they were named
// by: they are shared, not to be modified.
func (s *Symbolizer) UnwindUser(img *Image, regs unwind.Regs, stack []byte, dst []uint64) (unwind.Result, []Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unwind(img, regs, stack, dst, true)
}

// unwind is Unwind, naming the frames too if name is set; s.mu is held.
func (s *Symbolizer) unwind(img *Image, regs unwind.Regs, stack []byte, dst []uint64, name bool) (unwind.Result, []Frame, error) {
	maps, err := s.load(img)
	gen := img.generation()
	key := unwindKey{image: img.id, mapsGen: gen, stackLen: len(stack), regs: regs}
	if res, named, ok := s.memo.get(key, stack, dst); ok {
		if !name || named != nil {
			return res, named.frames(), named.err()
		}
		frames, ferr := s.user(img, res.PCs)
		if img.generation() == gen {
			s.memo.name(key, &unwindFrames{list: frames, e: ferr})
		}
		return res, frames, ferr
	}
	res, words := unwind.UnwindWords(dst, s.unwindWords, regs, stack, &imageResolver{s: s, img: img, maps: maps, mapsErr: err, arch: regs.Arch})
	s.unwindWords = words
	var named *unwindFrames
	if name {
		frames, ferr := s.user(img, res.PCs)
		named = &unwindFrames{list: frames, e: ferr}
	}
	if img.generation() == gen {
		// Not when the map was read again midway: the walk (or the
		// naming) used both.
		s.memo.put(img, key, res, words, named)
	}
	return res, named.frames(), named.err()
}

func (img *Image) generation() uint32 {
	img.mu.Lock()
	defer img.mu.Unlock()
	return img.mapsGen
}

var errGoFramePointers = errors.New("code of a Go binary, walked by frame pointers")

// imageResolver finds the CFI of an address of one image; s.mu is held.
type imageResolver struct {
	s       *Symbolizer
	img     *Image
	maps    []procMapping
	mapsErr error
	arch    unwind.Arch // the stack's mode: which vDSO image its process has
}

func (r *imageResolver) Table(pc uint64) (*unwind.Table, uint64, error) {
	if r.mapsErr != nil {
		return nil, 0, r.mapsErr
	}
	m := findMapping(r.maps, pc)
	if m == nil {
		if again, ok := r.s.reload(r.img); ok {
			r.maps = again
			m = findMapping(again, pc)
		}
	}
	if m != nil && m.Path == "[vdso]" && m.Inode == 0 {
		return r.s.vdsoTable(r.img, m, r.arch)
	}
	if m == nil || !m.isFile() {
		return nil, 0, nil
	}
	e := r.s.object(r.img, m)
	if e.obj == nil {
		return nil, 0, fmt.Errorf("%s: %w", m.Path, e.err)
	}
	if e.obj.gopcln != nil || e.obj.gotab != nil {
		// Go code keeps frame pointers (amd64, Go 1.7 on), and its CFI
		// misses what its assembly does to the stack (rawVforkSyscall pops
		// its return address around the syscall): walk it by rbp.
		return nil, 0, errGoFramePointers
	}
	if r.s.cfi == nil {
		r.s.cfi = unwind.NewCache[tracer.FileID](unwindCacheBytes)
	}
	t, err := r.s.cfi.Get(e.key, func() (*unwind.Table, error) {
		f, err := r.s.openMapped(r.img.mapPid(), m)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		ef, err := elf.NewFile(f)
		if err != nil {
			return nil, err
		}
		t, err := unwind.NewTable(ef)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		return t, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return t, e.obj.bias(m), nil
}
