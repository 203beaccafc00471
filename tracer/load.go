package tracer

import (
	"strings"
	"sync"

	"github.com/cilium/ebpf"
)

// premadeMaps are maps created before the load, while the kernel's BTF is
// decoded: those that depend on nothing the kernel's BTF decides. The load
// uses them in place of their specs (cloned), and they are closed after it.
type premadeMaps struct {
	maps map[string]*ebpf.Map
	done chan struct{}
}

// makeMaps starts creating specs' maps (a name each) in the background.
// One that fails is left to the load, which says why in context.
func makeMaps(specs map[string]*ebpf.MapSpec) *premadeMaps {
	p := &premadeMaps{maps: map[string]*ebpf.Map{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for name, s := range specs {
			if m, err := ebpf.NewMap(s); err == nil {
				p.maps[name] = m
			}
		}
	}()
	return p
}

// wait returns the maps made, once all are.
func (p *premadeMaps) wait() map[string]*ebpf.Map {
	<-p.done
	return p.maps
}

// close closes every map made, once all are.
func (p *premadeMaps) close() {
	for _, m := range p.wait() {
		m.Close()
	}
}

// earlyMaps are the map specs of spec that can be created before the
// kernel's BTF is read: not the data sections (their contents are the
// switches set from it) nor a map a fallback may replace.
func earlyMaps(spec *ebpf.CollectionSpec) map[string]*ebpf.MapSpec {
	decided := map[string]bool{}
	for _, f := range fallbackFeatures {
		for _, name := range f.maps {
			decided[name] = true
		}
	}
	out := map[string]*ebpf.MapSpec{}
	for name, s := range spec.Maps {
		if strings.HasPrefix(name, ".") || decided[name] {
			continue
		}
		out[name] = s
	}
	return out
}

// loadCollection loads spec as ebpf.NewCollectionWithOptions does, but
// verifies its programs at once rather than one after the other: the
// kernel verifies each on the CPU of the thread that loads it, and
// verification is most of the load. made are maps already created for
// some of spec's maps.
func loadCollection(spec *ebpf.CollectionSpec, made map[string]*ebpf.Map) (*ebpf.Collection, error) {
	// The maps first, every one: the programs' loads share them.
	maps, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
		Maps: spec.Maps, Variables: spec.Variables, Types: spec.Types, ByteOrder: spec.ByteOrder,
	}, ebpf.CollectionOptions{Cache: kernelTypes, MapReplacements: made})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(spec.Programs))
	for name, p := range spec.Programs {
		if p.Type != ebpf.UnspecifiedProgram { // as NewCollection skips them
			names = append(names, name)
		}
	}
	progs, err := loadPrograms(spec, names, maps.Maps)
	coll := &ebpf.Collection{Programs: progs, Maps: maps.Maps, Variables: maps.Variables}
	if err != nil {
		coll.Close()
		return nil, err
	}
	return coll, nil
}

// loadPrograms loads the programs of spec that names names, all at once,
// on maps made from spec's. It returns those loaded, also on failure.
func loadPrograms(spec *ebpf.CollectionSpec, names []string, maps map[string]*ebpf.Map) (map[string]*ebpf.Program, error) {
	progs := make([]*ebpf.Program, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
				Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{name: spec.Programs[name]},
				Types: spec.Types, ByteOrder: spec.ByteOrder,
			}, ebpf.CollectionOptions{Cache: kernelTypes, MapReplacements: maps})
			if err != nil {
				errs[i] = err
				return
			}
			// The clones of the maps go with it; the program stays.
			progs[i] = one.DetachProgram(name)
			one.Close()
		}()
	}
	wg.Wait()
	out := map[string]*ebpf.Program{}
	for i, name := range names {
		if progs[i] != nil {
			out[name] = progs[i]
		}
	}
	for _, err := range errs {
		if err != nil {
			// One, as NewCollection says it: a verifier log stays
			// reachable with errors.As.
			return out, err
		}
	}
	return out, nil
}

// setAside takes the programs of points out of spec, into a spec of their
// own on the same maps, to be loaded later (loadPrograms).
func setAside(spec *ebpf.CollectionSpec, points []attachPoint) *ebpf.CollectionSpec {
	aside := &ebpf.CollectionSpec{Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{}, Types: spec.Types, ByteOrder: spec.ByteOrder}
	for _, p := range points {
		if ps := spec.Programs[p.prog]; ps != nil {
			aside.Programs[p.prog] = ps
			delete(spec.Programs, p.prog)
		}
	}
	return aside
}
