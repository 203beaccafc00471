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
	// Every input is known before the outputs are opened, so that -o or
	// --html cannot name one of them.
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fail(stderr, exitFailure, "reading recording: %v", err)
		}
		err = outs.input(f)
		f.Close()
		if err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
	}
	outFile, page, _, _, err := o.openOutputs(&outs)
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	var b fleet.Builder
	for _, p := range paths {
		if err := addToFleet(&b, &outs, p, stderr); err != nil {
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

func addToFleet(b *fleet.Builder, outs *outputSet, path string, stderr io.Writer) error {
	rec, err := loadRecording(outs, path)
	if err != nil {
		return err
	}
	defer rec.Close()
	noteSortedLate(stderr, path, rec)
	return b.Add(rec, path)
}
