package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// Floor is a pair of empty programs on the raw tracepoints spawntrace uses
// for every syscall (sys_enter, sys_exit). It measures what no program
// body can avoid: with any program there, every syscall of the machine
// takes the kernel's traced path. make bench sets it against spawntrace.
type Floor struct {
	progs []*ebpf.Program
	links []link.Link
}

// OpenFloor loads and attaches the empty programs.
func OpenFloor() (f *Floor, err error) {
	f = &Floor{}
	defer func() {
		if err != nil {
			f.Close()
			f = nil
		}
	}()
	for _, name := range []string{"sys_enter", "sys_exit"} {
		prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
			Name:       "floor_" + name[4:],
			Type:       ebpf.Tracing,
			AttachType: ebpf.AttachTraceRawTp,
			AttachTo:   name,
			License:    "GPL",
			Instructions: asm.Instructions{
				asm.Mov.Imm(asm.R0, 0),
				asm.Return(),
			},
		}, ebpf.ProgramOptions{KernelTypes: sharedKernelTypes()})
		if err != nil {
			return f, fmt.Errorf("loading an empty program for %s: %w", name, err)
		}
		f.progs = append(f.progs, prog)
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			return f, fmt.Errorf("attaching an empty program to %s: %w", name, err)
		}
		f.links = append(f.links, l)
	}
	return f, nil
}

// sharedKernelTypes is the run's decoded kernel BTF, or nil to let the
// library load it.
func sharedKernelTypes() *btf.Spec {
	spec, err := kernelTypes.Kernel()
	if err != nil {
		return nil
	}
	return spec
}

// Close detaches and unloads.
func (f *Floor) Close() error {
	if f == nil {
		return nil
	}
	var errs []error
	for _, l := range f.links {
		errs = append(errs, l.Close())
	}
	for _, p := range f.progs {
		errs = append(errs, p.Close())
	}
	f.links, f.progs = nil, nil
	return errors.Join(errs...)
}
