package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

const reportHead = `Usage: spawntrace report [flags] FILE

Renders the outputs of a saved recording (spawntrace -w FILE) again, on any
host and without root. The summary goes to stdout.
`

const reportExamples = `  spawntrace report run.strec
  spawntrace report -c run.strec               strace -c compatible table only
  spawntrace report -o events.txt run.strec    event lines in strace -f -tt -T form
  spawntrace report --pprof out run.strec      spawns.pb.gz (and cpu.pb.gz) for go tool pprof
  spawntrace report --html run.html run.strec  the summary with its charts, for a browser
`

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o outputOptions
	o.slowest = 10
	fs := newFlagSet("spawntrace report", stderr)
	o.register(fs)
	fs.setUsage(reportHead, reportExamples)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	// Flags after the file (report run.strec -c) mean what they mean
	// before it, as GNU tools take them.
	file := fs.Arg(0)
	if rest := fs.Args()[1:]; len(rest) > 0 {
		if code, ok := fs.parse(rest); !ok {
			return code
		}
		if fs.NArg() > 0 {
			return fail(stderr, exitUsage, "report reads one recording, given %s and %s (spawntrace report -h lists the flags)", file, fs.Arg(0))
		}
	}
	if err := o.check(); err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	var outs outputSet
	defer outs.close()
	rec, err := loadRecording(&outs, file)
	if err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	defer rec.Close() // removes the events' spill file
	out, err := o.open(&outs)
	if err == nil {
		err = outs.ready()
	}
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	noteSortedLate(stderr, file, rec)
	// -c alone shows the syscall table, whose numbers the recording holds:
	// no pass over the events for a summary nobody reads (measured: report
	// -c of 200k spawns, 0.9 s of CPU with it, 0.4 s without).
	var sum summary.Summary
	if !(o.countOnly || o.summaryPlus) || out.pprof != nil || out.html != nil {
		if sum, err = summary.Summarize(rec); err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
		defer sum.Close() // removes the rows' spill file
	}
	defer outs.interruptWrites()()
	if err := o.write(out, rec, sum, stdout); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	if err := writePprof(out.pprof, rec, sum, stderr); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	return 0
}

// loadRecording reads a recording (report's and compare's input), which no
// output of the same command may overwrite (outputSet.ready).
func loadRecording(set *outputSet, path string) (*recording.Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading recording: %w", err)
	}
	if err := set.input(f); err != nil {
		f.Close()
		return nil, err
	}
	return decodeRecording(f, path)
}

// decodeRecording reads a recording from f, opened already (and known to
// the outputSet as an input). It takes f: closed, or kept until rec.Close
// (a binary recording's events are read in place).
func decodeRecording(f *os.File, path string) (*recording.Recording, error) {
	rec, err := recording.DecodeFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// noteSortedLate says when a loaded recording's events were too far out
// of time order for the reorder window, so that they were sorted on disk
// first: a file from another tool or edited by hand, or a run that warned
// of late events when it was recorded.
func noteSortedLate(stderr io.Writer, path string, rec *recording.Recording) {
	if n := rec.SortedLate(); n > 0 {
		fmt.Fprintf(stderr, "spawntrace: note: %s: %d events are out of time order by more than %d events: "+
			"sorted on disk first\n", path, n, recording.ReorderWindow)
	}
}
