// Command synthrec writes a synthetic recording of N spawns (synth.Spawns,
// as a recording run keeps them) for `make bench` to time `spawntrace
// report` on, without root or a traced workload.
//
//	go run ./analyze/internal/synth/synthrec -n 200000 -o run.strec
//
// The output is binary, or JSON when its name ends in .json; gzipped
// when it ends in .gz.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/internal/synth"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

func main() {
	n := flag.Int("n", 200_000, "spawns")
	out := flag.String("o", "", "output file (.json: JSON, else binary; .gz: gzipped)")
	flag.Parse()
	if *out == "" || *n < 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: synthrec [-n SPAWNS] -o FILE")
		os.Exit(2)
	}
	if err := write(*n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "synthrec:", err)
		os.Exit(1)
	}
}

func write(n int, path string) error {
	r, err := recording.NewRecorder()
	if err != nil {
		return err
	}
	var addErr error
	synth.Spawns(n, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil && addErr == nil {
			addErr = err
		}
	})
	if addErr != nil {
		r.Close()
		return addErr
	}
	rec := &recording.Recording{
		Version: "synthrec",
		Host: recording.Host{Hostname: "synth", KernelRelease: "6.12.0", Machine: "x86_64", CPUs: 2,
			MemBytes: 8 << 30, PageBytes: 4096},
		Command:     []string{"python3", "spawn.py"},
		StartMonoNs: 1e12,
		EndMonoNs:   1e12 + uint64(n)*1e6,
		Syscalls: []recording.SyscallStat{
			{Nr: sysno.Clone3, Name: "clone3", Calls: uint64(n), TimeNs: uint64(n) * 300_000},
			{Nr: sysno.Execve, Name: "execve", Calls: uint64(n + n/4), Errors: uint64(n / 4), TimeNs: uint64(n) * 152_000},
		},
	}
	if err := r.Fill(rec); err != nil {
		return err
	}
	defer rec.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := recording.Save(f, recording.EncodingFor(path), strings.HasSuffix(path, ".gz"), rec); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
