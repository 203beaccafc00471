package main

import (
	"fmt"
	"io"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/reports"
)

// defaultFreqHz is --freq's default: 999 Hz, off the kernel's own 1000 Hz
// tick so sampling does not run in lockstep with it (as perf's default).
const defaultFreqHz = 999

// sampleHz is the CPU sampling rate to ask the tracer for: sampling runs
// only for --pprof.
func sampleHz(pprofDir string, freq int) int {
	if pprofDir == "" {
		return 0
	}
	return freq
}

func checkFreq(freq int) error {
	if freq < 1 || freq > 100000 {
		return fmt.Errorf("--freq %d: must be between 1 and 100000 Hz", freq)
	}
	return nil
}

// pprofFiles are the profiles of one recording in a --pprof directory,
// opened up front: cpu.pb.gz is removed again when the recording has no
// CPU samples.
type pprofFiles struct {
	spawns, cpu *outFile
}

// openPprof opens PREFIXspawns.pb.gz and PREFIXcpu.pb.gz in d.
func openPprof(set *outputSet, d *outDir, prefix string) (*pprofFiles, error) {
	var p pprofFiles
	var err error
	if p.spawns, err = set.in(d, "--pprof", prefix+reports.SpawnProfileName); err != nil {
		return nil, err
	}
	if p.cpu, err = set.in(d, "--pprof", prefix+reports.CPUProfileName); err != nil {
		return nil, err
	}
	return &p, nil
}

// writeSpawns writes the spawn profile.
func (p *pprofFiles) writeSpawns(rec *recording.Recording, sum summary.Summary) error {
	return p.spawns.write(func(w io.Writer) error { return reports.WriteSpawnProfile(w, rec, sum) })
}

// writeCPU writes the CPU profile, or removes its file when there is none
// to write (a file spawntrace made; one that was there stays, empty).
func (p *pprofFiles) writeCPU(rec *recording.Recording, ok bool) error {
	if !ok {
		if p.cpu.created {
			p.cpu.remove()
		}
		return nil
	}
	return p.cpu.write(func(w io.Writer) error { return reports.WriteCPUProfile(w, rec) })
}

// writePprof writes spawns.pb.gz and, when the recording was sampled,
// cpu.pb.gz, then says on stderr how complete the stacks are.
func writePprof(p *pprofFiles, rec *recording.Recording, sum summary.Summary, stderr io.Writer) error {
	if p == nil {
		return nil
	}
	if err := p.writeSpawns(rec, sum); err != nil {
		return err
	}
	if err := p.writeCPU(rec, rec.SampleHz > 0); err != nil {
		return err
	}
	if rec.SampleHz == 0 {
		fmt.Fprintf(stderr, "spawntrace: %s not written: the recording has no CPU samples\n", reports.CPUProfileName)
	}
	st, err := sum.SpawnStacks(rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "spawntrace: %s\n", reports.SpawnStackNote(st))
	if rec.StackLoss != nil && rec.StackLoss.SampleStacks > 0 {
		fmt.Fprintf(stderr, "spawntrace: %d CPU samples' user stacks not symbolized (process gone or symbolizer behind)\n",
			rec.StackLoss.SampleStacks)
	}
	if rec.StackLoss != nil && rec.StackLoss.SamplesDropped > 0 {
		fmt.Fprintf(stderr, "spawntrace: %d CPU samples dropped: the symbolizer fell behind\n", rec.StackLoss.SamplesDropped)
	}
	return nil
}
