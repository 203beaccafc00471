package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/reports"
)

// outputOptions are the outputs shared by record and report.
type outputOptions struct {
	straceOptions
	countOnly  bool
	eventsPath string
	slowest    int
	pprofDir   string
	htmlPath   string
}

func (o *outputOptions) register(fs *flagSet) {
	fs.boolVar(&o.countOnly, "c", "summary-only", "print only the strace -c compatible table (wall time per call)")
	fs.stringVar(&o.eventsPath, "o", "output", "FILE", "write event lines in strace -f -tt -T form to FILE: the spawn-related calls and the exits")
	fs.intVar(&o.slowest, "", "slowest", "N", "list the N slowest spawns in the summary")
	fs.stringVar(&o.pprofDir, "", "pprof", "DIR", "write spawns.pb.gz and cpu.pb.gz (go tool pprof) to DIR")
	fs.stringVar(&o.htmlPath, "", "html", "FILE", "write the summary with its charts to FILE, one HTML page that needs no network")
	o.straceOptions.register(fs)
}

// check parses the flags shared by record and report; its errors are usage
// errors naming the bad value.
func (o *outputOptions) check() error {
	if o.slowest < 0 {
		return fmt.Errorf("--slowest %d: the number of spawns listed must be 0 or more", o.slowest)
	}
	return o.straceOptions.check()
}

// openedOutputs are outputOptions' files, opened before anything runs.
type openedOutputs struct {
	events *outFile    // -o, or nil
	pprof  *pprofFiles // --pprof, or nil
	html   *outFile    // --html, or nil
}

// open opens -o and --pprof's files into set.
func (o *outputOptions) open(set *outputSet) (openedOutputs, error) {
	var out openedOutputs
	var err error
	if o.eventsPath != "" {
		if out.events, err = set.file("-o", o.eventsPath); err != nil {
			return out, err
		}
	}
	if o.htmlPath != "" {
		if out.html, err = set.file("--html", o.htmlPath); err != nil {
			return out, err
		}
	}
	if o.pprofDir != "" {
		d, err := set.dir("--pprof", o.pprofDir)
		if err != nil {
			return out, err
		}
		if out.pprof, err = openPprof(set, d, ""); err != nil {
			return out, err
		}
	}
	return out, nil
}

// write renders the requested outputs of a recording: event lines to their
// file, the HTML page to its own, the summary to w (stderr when recording:
// stdout is the workload's).
// An output interrupted (errInterrupted) does not stop the others: its
// error is returned at the end.
func (o *outputOptions) write(out openedOutputs, rec *recording.Recording, sum summary.Summary, w io.Writer) (err error) {
	bw := bufio.NewWriter(w)
	var interrupted error
	defer func() {
		if err == nil {
			err = interrupted
		}
	}()
	if out.events != nil {
		if err := out.events.write(func(w io.Writer) error { return reports.WriteEventLinesWith(w, rec, o.lines) }); err != nil {
			if !errors.Is(err, errInterrupted) {
				return err
			}
			interrupted = err
		}
	} else if o.summaryPlus {
		// -C without -o: the lines before the table, as strace -C prints them.
		if err := reports.WriteEventLinesWith(bw, rec, o.lines); err != nil {
			return fmt.Errorf("writing event lines: %w", err)
		}
	}
	if err := writeHTML(out.html, rec, sum, reports.HTMLHeading{}); err != nil {
		if !errors.Is(err, errInterrupted) {
			return err
		}
		interrupted = alsoInterrupted(interrupted, err)
	}
	if err := reports.WriteLostWarning(bw, rec.Lost); err != nil {
		return err
	}
	if err := reports.WriteCountReportWith(bw, rec, o.table); err != nil {
		return err
	}
	if !o.countOnly && !o.summaryPlus {
		fmt.Fprintln(bw)
		if err := reports.WriteSpawnSection(bw, sum, o.slowest); err != nil {
			return err
		}
		// Classes tell apart what one mechanism table lumps together (the
		// same call from parents of different sizes, with or without a
		// PATH search); one class would only repeat that table.
		if classes := sum.Classes; len(classes) > 1 {
			if err := reports.WriteClassTable(bw, rec, classes); err != nil {
				return err
			}
		}
		if err := reports.WriteAnatomy(bw, rec, sum); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return nil
}

// alsoInterrupted adds err, an output interrupted, to those before it.
func alsoInterrupted(before, err error) error {
	if before == nil {
		return err
	}
	if err == nil {
		return before
	}
	return fmt.Errorf("%w; %w", before, err)
}

// writeHTML writes the --html page, if one was asked for.
func writeHTML(f *outFile, rec *recording.Recording, sum summary.Summary, head reports.HTMLHeading) error {
	if f == nil {
		return nil
	}
	return f.write(func(w io.Writer) error { return reports.WriteHTML(w, rec, sum, head) })
}
