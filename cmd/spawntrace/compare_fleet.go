package main

import (
	"io"
	"os"

	"github.com/spawntrace/spawntrace/analyze/fleet"
	"github.com/spawntrace/spawntrace/reports"
)

var fleetWriters = map[string]func(io.Writer, *fleet.Fleet) error{
	"text":     reports.WriteFleet,
	"json":     reports.WriteFleetJSON,
	"markdown": reports.WriteFleetMarkdown,
	"md":       reports.WriteFleetMarkdown,
}

// runFleet compares three recordings or more. Each is read, reduced to its
// host's profile and closed before the next is read: one recording's
// events are on disk at a time.
func runFleet(o *compareOptions, paths []string, stdout, stderr io.Writer) int {
	switch {
	case o.names != "":
		return fail(stderr, exitUsage, "--names names two recordings; with %d, hosts are named by their hostnames", len(paths))
	case o.pprof != "":
		return fail(stderr, exitUsage, "--pprof compares two recordings, not %d", len(paths))
	}
	write := fleetWriters[o.format]
	var outs outputSet
	defer outs.close()
	// Every input is opened, and known, before the outputs are, so that -o
	// or --html cannot name one of them; each is read through the
	// descriptor opened here, never opened again by name: a FIFO (or a
	// name swapped meanwhile) would not give the same bytes twice.
	inputs := make([]*os.File, 0, len(paths))
	defer func() {
		for _, f := range inputs {
			if f != nil {
				f.Close()
			}
		}
	}()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fail(stderr, exitFailure, "reading recording: %v", err)
		}
		inputs = append(inputs, f)
		if err := outs.input(f); err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
	}
	outFile, page, _, _, err := o.openOutputs(&outs)
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	var b fleet.Builder
	for i, p := range paths {
		err := addToFleet(&b, inputs[i], p, stderr)
		inputs[i].Close() // read: one host's descriptor open at a time from here on
		inputs[i] = nil
		if err != nil {
			outs.abandon()
			return fail(stderr, exitFailure, "%v", oneLine(err))
		}
	}
	f := b.Fleet()
	if page != nil {
		if err := page.write(func(w io.Writer) error { return reports.WriteFleetHTML(w, f) }); err != nil {
			return fail(stderr, exitFailure, "--html: %v", err)
		}
	}
	if err := writeComparison(outFile, stdout, func(w io.Writer) error { return write(w, f) }); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	return 0
}

func addToFleet(b *fleet.Builder, f *os.File, path string, stderr io.Writer) error {
	rec, err := decodeRecording(f, path)
	if err != nil {
		return err
	}
	defer rec.Close()
	noteSortedLate(stderr, path, rec)
	return b.Add(rec, path)
}
