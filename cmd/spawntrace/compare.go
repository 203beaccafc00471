package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/reports"
)

const compareHead = `Usage: spawntrace compare [flags] A.json B.json
       spawntrace compare [flags] HOST1.rec HOST2.rec HOST3.rec ...

Explains why spawning costs differ between two recordings of the same
workload (spawntrace -w FILE), made on two hosts or in two ways: host facts
side by side, the typical spawn's syscalls on each side, a per-syscall table,
the cost of one spawn split into parts with the share of the difference each
explains, the copy-time fits, and findings that name the causes. No root
needed. The comparison goes to stdout.

With three recordings or more (a fleet: one per host, e.g. spawntrace bench
-w $(hostname).rec on every node), ranks the hosts by one spawn's cost
(median and p90), groups them by what differs (kernel, libc, THP, CPU,
mechanism, parent RSS, environment, PATH), and names each outlier's cause
by comparing it with the fleet's typical host. The recordings are read one
at a time: memory grows with the hosts, not with their spawns.
`

const compareExamples = `  spawntrace compare laptop.json cluster.json
  spawntrace compare --names laptop,cluster a.json b.json
  spawntrace compare --format markdown a.json b.json > compare.md
  spawntrace compare --pprof prof a.json b.json
      then: go tool pprof -diff_base prof/A-spawns.pb.gz prof/B-spawns.pb.gz
  spawntrace compare --html compare.html laptop.json cluster.json
  spawntrace compare nodes/*.rec                 rank a fleet, name its outliers' causes
  spawntrace compare --html fleet.html nodes/*.rec
`

type compareOptions struct {
	names  string
	format string
	pprof  string
	output string
	html   string
}

func runCompare(_ context.Context, args []string, stdout, stderr io.Writer) int {
	o := compareOptions{format: "text"}
	fs := newFlagSet("spawntrace compare", stderr)
	fs.stringVar(&o.names, "n", "names", "A,B", "what to call the two sides (default: the file names)")
	fs.stringVar(&o.format, "f", "format", "FORMAT", "text (100 columns), json or markdown (default text)")
	fs.stringVar(&o.pprof, "", "pprof", "DIR", "write A- and B-spawns.pb.gz (and CPU profiles) to DIR for pprof -diff_base")
	fs.stringVar(&o.output, "o", "output", "FILE", "write the comparison to FILE instead of stdout")
	fs.stringVar(&o.html, "", "html", "FILE", "write the comparison with its charts to FILE, one HTML page that needs no network")
	fs.setUsage(compareHead, compareExamples)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if n := fs.NArg(); n < 2 {
		// One line, as for a mistyped flag (flagSet.parse): the help
		// after it would scroll it away.
		return fail(stderr, exitUsage, "compare needs two recordings (or three or more, a fleet), got %d "+
			"(usage: spawntrace compare [flags] A.rec B.rec; spawntrace compare -h for more)", n)
	}
	write, ok := compareWriters[o.format]
	if !ok {
		return fail(stderr, exitUsage, "--format %q: must be text, json or markdown", o.format)
	}
	if fs.NArg() > 2 {
		return runFleet(&o, fs.Args(), stdout, stderr)
	}
	pathA, pathB := fs.Arg(0), fs.Arg(1)
	nameA, nameB, err := compareNames(o.names, pathA, pathB)
	if err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	// Both streamed: each one's events stay on disk (a spill file each).
	var outs outputSet
	defer outs.close()
	a, err := loadRecording(&outs, pathA)
	if err != nil {
		return fail(stderr, exitFailure, "%v", oneLine(err))
	}
	defer a.Close()
	noteSortedLate(stderr, pathA, a)
	b, err := loadRecording(&outs, pathB)
	if err != nil {
		return fail(stderr, exitFailure, "%v", oneLine(err))
	}
	defer b.Close()
	noteSortedLate(stderr, pathB, b)
	outFile, page, profA, profB, err := o.openOutputs(&outs)
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	c, err := compare.Compare(a, b, nameA, nameB)
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	if o.output != "" || o.format == "json" {
		// The text and Markdown on a terminal carry the notes already.
		for i := range c.Notes {
			fmt.Fprintf(stderr, "spawntrace: compare: %s\n", reports.TermSafe(reports.CompareNoteText(c, &c.Notes[i])))
		}
	}
	if profA != nil {
		if err := writeComparePprof(profA, profB, a, b, c, stderr); err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
	}
	if page != nil {
		if err := page.write(func(w io.Writer) error { return reports.WriteCompareHTML(w, c, a, b) }); err != nil {
			return fail(stderr, exitFailure, "--html: %v", err)
		}
	}
	if err := writeComparison(outFile, stdout, func(w io.Writer) error { return write(w, c) }); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	return 0
}

// writeComparison writes to -o's file, or to stdout.
func writeComparison(outFile *outFile, stdout io.Writer, write func(io.Writer) error) error {
	if outFile != nil {
		return outFile.write(write)
	}
	bw := bufio.NewWriter(stdout)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("writing comparison: %w", err)
	}
	return nil
}

var compareWriters = map[string]func(io.Writer, *compare.Comparison) error{
	"text":     reports.WriteCompare,
	"json":     reports.WriteCompareJSON,
	"markdown": reports.WriteCompareMarkdown,
	"md":       reports.WriteCompareMarkdown,
}

// compareNames takes --names a,b, or names the sides after their files
// ("laptop" for laptop.json.gz); "A" and "B" when those are the same.
func compareNames(flagValue, pathA, pathB string) (string, string, error) {
	if flagValue != "" {
		parts := strings.Split(flagValue, ",")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
			return "", "", fmt.Errorf("--names %q: want two names separated by a comma, e.g. laptop,cluster", flagValue)
		}
		a, b := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		if a == b {
			return "", "", fmt.Errorf("--names %q: the two names must differ", flagValue)
		}
		return a, b, nil
	}
	base := func(p string) string {
		b := filepath.Base(p)
		b = strings.TrimSuffix(b, ".gz")
		return strings.TrimSuffix(b, filepath.Ext(b))
	}
	a, b := base(pathA), base(pathB)
	if a == b || a == "" || b == "" {
		return "A", "B", nil
	}
	return a, b, nil
}

// oneLine keeps an error to its first line: a corrupt file's error must not
// flood the terminal.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// openOutputs opens -o, --html and --pprof's A- and B- profiles.
func (o *compareOptions) openOutputs(set *outputSet) (out, page *outFile, a, b *pprofFiles, err error) {
	if o.output != "" {
		if out, err = set.file("-o", o.output); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if o.html != "" {
		if page, err = set.file("--html", o.html); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if o.pprof != "" {
		d, err := set.dir("--pprof", o.pprof)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if a, err = openPprof(set, d, "A-"); err != nil {
			return nil, nil, nil, nil, err
		}
		if b, err = openPprof(set, d, "B-"); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return out, page, a, b, set.ready()
}

// writeComparePprof writes each side's spawn profile (and CPU profile, when
// both recorded samples) as A-*.pb.gz and B-*.pb.gz.
func writeComparePprof(profA, profB *pprofFiles, a, b *recording.Recording, c *compare.Comparison, stderr io.Writer) error {
	sides := []struct {
		prof *pprofFiles
		rec  *recording.Recording
	}{{profA, a}, {profB, b}}
	for _, s := range sides {
		sum, err := summary.Summarize(s.rec)
		if err != nil {
			return err
		}
		err = s.prof.writeSpawns(s.rec, sum)
		sum.Close()
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "spawntrace: spawn profiles: go tool pprof -diff_base %s %s\n", profA.spawns.name, profB.spawns.name)
	both := a.SampleHz > 0 && b.SampleHz > 0
	for _, s := range sides {
		if err := s.prof.writeCPU(s.rec, both); err != nil {
			return err
		}
	}
	if both {
		fmt.Fprintf(stderr, "spawntrace: CPU profiles: go tool pprof -diff_base %s %s\n", profA.cpu.name, profB.cpu.name)
	} else {
		fmt.Fprintf(stderr, "spawntrace: no CPU profiles: %s and %s were not both recorded with CPU sampling\n",
			c.A.Name, c.B.Name)
	}
	return nil
}
