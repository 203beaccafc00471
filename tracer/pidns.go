package tracer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// initPidNsIno is the inode of the initial pid namespace, fixed by the
// kernel (PROC_PID_INIT_INO): any other says spawntrace runs in a container.
const initPidNsIno = 0xEFFFFFFC

// pidNamespace is spawntrace's own pid namespace. Events carry pids as it
// numbers them, which is what the user, /proc and kill(2) see there; the
// kernel's maps are keyed by the initial namespace's (host) pids.
type pidNamespace struct {
	dev, ino uint64 // of /proc/self/ns/pid
	level    uint32 // 0 in the initial namespace; read from the kernel once loaded
}

func ownPidNamespace() (pidNamespace, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return pidNamespace{}, fmt.Errorf("reading spawntrace's pid namespace: %w", err)
	}
	return pidNamespace{dev: st.Dev, ino: st.Ino}, nil
}

func (ns pidNamespace) nested() bool { return ns.ino != initPidNsIno }

// configure sets the namespace's switches before load. Outside a container
// the programs keep the kernel's pids as they are (the branches that
// translate them are pruned) and the iterator is not loaded.
func (ns pidNamespace) configure(spec *ebpf.CollectionSpec) error {
	for name, v := range map[string]any{"pidns_dev": ns.dev, "pidns_ino": ns.ino} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	if !ns.nested() {
		// Its map too: 64k preallocated entries cost ~0.3-1.5 ms to make.
		delete(spec.Programs, "resolve_pids")
		delete(spec.Maps, "resolve")
		return nil
	}
	if err := spec.Variables["pidns_nested"].Set(uint32(1)); err != nil {
		return fmt.Errorf("setting pidns_nested: %w", err)
	}
	return nil
}

// runResolver runs the resolve_pids iterator over every task once: it sets
// pidns_level from spawntrace's own task, and fills in the resolve map.
func (t *Tracer) runResolver() error {
	l, err := link.AttachIter(link.IterOptions{Program: t.coll.Programs["resolve_pids"]})
	if err != nil {
		return fmt.Errorf("pid namespace: attaching the task iterator: %w", err)
	}
	defer l.Close()
	r, err := l.Open()
	if err != nil {
		return fmt.Errorf("pid namespace: running the task iterator: %w", err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("pid namespace: running the task iterator: %w", err)
	}
	return nil
}

// findPidnsLevel reads how deep spawntrace's pid namespace is, which the
// programs need to read any task's pid in it, before anything is attached.
func (t *Tracer) findPidnsLevel() error {
	if !t.pidns.nested() {
		return nil
	}
	if err := t.runResolver(); err != nil {
		return err
	}
	var level uint32
	if err := t.coll.Variables["pidns_level"].Get(&level); err != nil {
		return fmt.Errorf("pid namespace: reading its level: %w", err)
	}
	if level == 0 {
		return errors.New("pid namespace: not the initial one, yet the kernel puts spawntrace at level 0")
	}
	t.pidns.level = level
	return nil
}

// hostPids turns pids of spawntrace's namespace into the host's, the keys
// of the tracked map: the same numbers outside a container. A pid the
// kernel does not find is an error, unless the process has exited since
// (its /proc entry is gone): then its host pid is 0.
func (t *Tracer) hostPids(pids []int) ([]uint32, error) {
	host := make([]uint32, len(pids))
	if !t.pidns.nested() {
		for i, p := range pids {
			host[i] = uint32(p)
		}
		return host, nil
	}
	m := t.coll.Maps["resolve"]
	for _, p := range pids {
		if err := m.Put(uint32(p), uint32(0)); err != nil {
			return nil, fmt.Errorf("resolving pid %d: %w", p, err)
		}
	}
	defer func() {
		for _, p := range pids {
			m.Delete(uint32(p))
		}
	}()
	if err := t.runResolver(); err != nil {
		return nil, err
	}
	for i, p := range pids {
		if err := m.Lookup(uint32(p), &host[i]); err != nil {
			return nil, fmt.Errorf("resolving pid %d: %w", p, err)
		}
		if host[i] == 0 {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err == nil {
				return nil, fmt.Errorf("pid %d: the kernel has no such process in spawntrace's pid namespace", p)
			}
		}
	}
	return host, nil
}

// Nested reports whether spawntrace runs in a pid namespace other than the
// initial one (a container): events then carry host pids besides.
func (t *Tracer) Nested() bool { return t.pidns.nested() }
