package live

import (
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// unwindUsage counts the spawn stacks the kernel copied and what their
// unwinding cost; the reader goroutine counts copies, the symbolizer the
// rest, and Finish reads both once the symbolizer is done.
type unwindUsage struct {
	copies    int
	copyBytes uint64
	unwound   int
	unwindNs  uint64
	readMax   uint64   // the most bytes of one copy an unwind used
	pcs       []uint64 // the symbolizer's, reused
}

// dwarfRDI is rdi's DWARF register number (System V x86-64 psABI): glibc's
// vfork keeps its return address there across the syscall.
const dwarfRDI = 5

// unwindRegs are the registers of a copied stack as the unwinder takes
// them: a 32-bit program's by i386's DWARF numbers, its vfork's return
// address in ecx.
func unwindRegs(c *tracer.StackCopy) unwind.Regs {
	if c.Code32 {
		return unwind.Regs{Arch: unwind.ArchI386, IP: c.IP, SP: c.SP, BP: c.BP,
			Other:      [16]uint64{unwind.RegI386ECX: c.CX, unwind.RegI386EDI: c.DI},
			OtherValid: 1<<unwind.RegI386ECX | 1<<unwind.RegI386EDI}
	}
	return unwind.Regs{IP: c.IP, SP: c.SP, BP: c.BP, Other: [16]uint64{dwarfRDI: c.DI}, OtherValid: 1 << dwarfRDI}
}

// unwind walks a spawner's copied stack by the CFI of the files its image
// maps, and names the frames. ok says whether that stack is to replace
// fp, the frame-pointer walk's: when it reaches an entry point and is no
// shorter (a frame-pointer walk through code that keeps rbp for other
// uses can reach main yet skip callers), or, neither reaching one, when
// it is longer. cut: it ran out of copied bytes before an entry point.
func (p *stackProbe) unwind(img *symbolize.Image, c *tracer.StackCopy, fp []symbolize.Frame) (frames []symbolize.Frame, cut bool, err error, ok bool) {
	start := time.Now()
	defer func() {
		p.unwinding.unwound++
		p.unwinding.unwindNs += uint64(time.Since(start))
	}()
	// Frames shared with the symbolizer's memo: read, never modified.
	res, frames, err := p.sym.UnwindUser(img, unwindRegs(c), c.Stack, p.unwinding.pcs)
	p.unwinding.pcs = res.PCs
	p.unwinding.readMax = max(p.unwinding.readMax, res.ReadBytes)
	if len(res.PCs) < 2 { // the leaf alone: nothing the kernel's walk lacked
		return nil, false, nil, false
	}
	root, fpRoot := reachesRoot(frames), reachesRoot(fp)
	switch {
	case root && len(frames) >= len(fp):
	case !root && !fpRoot && len(frames) > len(fp):
	default:
		return nil, false, nil, false
	}
	return frames, !root && res.Stop == unwind.StopCut, err, true
}

// reachesRoot says whether a user stack reaches a program's or a thread's
// entry (recording.IsStackRoot).
func reachesRoot(frames []symbolize.Frame) bool {
	for _, f := range frames {
		if !f.Kernel && recording.IsStackRoot(f.Func) {
			return true
		}
	}
	return false
}

// fill gives the recording's tracer usage the counts (Session.Finish).
func (u *unwindUsage) fill(rec *recording.Recording) {
	if rec.Tracer == nil {
		return
	}
	rec.Tracer.StackCopies = u.copies
	rec.Tracer.StackCopyBytes = u.copyBytes
	rec.Tracer.StacksUnwound = u.unwound
	rec.Tracer.UnwindNs = u.unwindNs
	rec.Tracer.StackBytesReadMax = u.readMax
}
