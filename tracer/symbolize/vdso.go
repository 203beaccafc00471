package symbolize

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// A 32-bit program's syscalls go through the vDSO's __kernel_vsyscall
// (glibc's fork, wait4 and most others: call *%gs:0x10), whose CFI is the
// only way past the registers it pushes: its ebp is no frame pointer
// there. The vDSO is no file: its ELF image is read from the process's
// memory, once per mode, as the kernel maps the same image into every
// process of that mode.

// The spawner is often gone by the time its stack is unwound (a short
// program's last spawns): so a 32-bit process's vDSO is read with its
// memory map, which is read while it lives, until one has been parsed.
// A 64-bit program's spawns make their syscalls from libc: its vDSO is
// read only if a stack's leaf is in it.

// maxVDSOBytes bounds the read: the kernel's vDSO images are 8 KiB here.
const maxVDSOBytes = 64 << 10

// vdsoKey is one image of the vDSO: the kernel has one per mode.
type vdsoKey struct {
	arch unwind.Arch
	size uint64
}

// vdsoImage is a vDSO's CFI, its symbols (__kernel_vsyscall), and the
// virtual address its first byte is linked at, to rebase it to where a
// process has it mapped.
type vdsoImage struct {
	t        *unwind.Table
	obj      *objFile
	linkBase uint64
}

// vdsoArch is the mode of the process that has the vDSO mapped at m: a
// 32-bit process's lies below 4 GiB, where no 64-bit process's does (its
// mappings start from the top of its 47-bit space).
func vdsoArch(m *procMapping) unwind.Arch {
	if m.End <= 1<<32 {
		return unwind.ArchI386
	}
	return unwind.ArchX8664
}

// vdsoFunc names the address addr of the vDSO mapped at m, if its image
// has been read (for an unwind through it); s.mu is held.
func (s *Symbolizer) vdsoFunc(m *procMapping, addr uint64) string {
	v, ok := s.vdso[vdsoKey{arch: vdsoArch(m), size: m.End - m.Start}]
	if !ok || v.obj == nil {
		return ""
	}
	return v.obj.symbol(addr - (m.Start - v.linkBase))
}

// vdsoTable returns the CFI of the vDSO mapped at m in the image's
// process, read from its memory unless an image of that mode and size was
// read before, and its load bias there; s.mu is held. A failed read (the
// process gone) is not kept: another process's may succeed.
func (s *Symbolizer) vdsoTable(img *Image, m *procMapping, arch unwind.Arch) (*unwind.Table, uint64, error) {
	if m.Offset != 0 || m.End <= m.Start || m.End-m.Start > maxVDSOBytes {
		return nil, 0, fmt.Errorf("[vdso] at %#x-%#x offset %#x: not a whole image", m.Start, m.End, m.Offset)
	}
	k := vdsoKey{arch: arch, size: m.End - m.Start}
	v, ok := s.vdso[k]
	if !ok {
		img.mu.Lock()
		buf := img.vdso
		img.mu.Unlock()
		var err error
		if uint64(len(buf)) != k.size {
			buf, err = s.readMemory(img.pid, m)
		}
		if err == nil {
			v, err = parseVDSO(buf, arch)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("[vdso]: %w", err)
		}
		if s.vdso == nil {
			s.vdso = map[vdsoKey]vdsoImage{}
		}
		s.vdso[k] = v
		if arch == unwind.ArchI386 {
			s.have32VDSO.Store(true)
		}
	}
	return v.t, m.Start - v.linkBase, nil
}

// vdsoEarly reads the [vdso] of maps from pid's memory if it is a 32-bit
// process's (vdsoArch) and no 32-bit image is known yet; nil otherwise. It takes no lock of s: the
// reader goroutine reads maps.
func (s *Symbolizer) vdsoEarly(pid uint32, maps []procMapping) []byte {
	if s.have32VDSO.Load() {
		return nil
	}
	for i := range maps {
		m := &maps[i]
		if m.Path == "[vdso]" && m.Inode == 0 && m.Offset == 0 && vdsoArch(m) == unwind.ArchI386 && m.End > m.Start && m.End-m.Start <= maxVDSOBytes {
			b, _ := s.readMemory(pid, m)
			return b
		}
	}
	return nil
}

// readMemory reads the bytes of mapping m of pid.
func (s *Symbolizer) readMemory(pid uint32, m *procMapping) ([]byte, error) {
	f, err := os.Open(s.procRoot + "/" + strconv.FormatUint(uint64(pid), 10) + "/mem")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, m.End-m.Start)
	if _, err := f.ReadAt(buf, int64(m.Start)); err != nil {
		return nil, err
	}
	return buf, nil
}

// parseVDSO reads the CFI of a vDSO image that should be of arch.
func parseVDSO(buf []byte, arch unwind.Arch) (vdsoImage, error) {
	ef, err := elf.NewFile(bytes.NewReader(buf))
	if err != nil {
		return vdsoImage{}, err
	}
	t, err := unwind.NewTable(ef)
	if err != nil {
		return vdsoImage{}, err
	}
	if t.Arch() != arch {
		return vdsoImage{}, fmt.Errorf("an %v image in an %v process", t.Arch(), arch)
	}
	obj, _ := loadObject(bytes.NewReader(buf), "[vdso]") // its symbols name frames only
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			return vdsoImage{t: t, obj: obj, linkBase: p.Vaddr}, nil
		}
	}
	return vdsoImage{}, errors.New("no load segment at its start")
}
