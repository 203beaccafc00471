package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spawntrace/spawntrace/analyze"
	"github.com/spawntrace/spawntrace/reports"
)

const compareHead = `Usage: spawntrace compare [flags] A.json B.json

Explains why spawning costs differ between two recordings of the same
workload (spawntrace -w FILE), made on two hosts or in two ways: host facts
side by side, the typical spawn's syscalls on each side, a per-syscall table,
the cost of one spawn split into parts with the share of the difference each
explains, the copy-time fits, and findings that name the causes. No root
needed. The comparison goes to stdout.
`

const compareExamples = `  spawntrace compare laptop.json cluster.json
  spawntrace compare --names laptop,cluster a.json b.json
  spawntrace compare --format markdown a.json b.json > compare.md
  spawntrace compare --pprof prof a.json b.json
      then: go tool pprof -diff_base prof/A-spawns.pb.gz prof/B-spawns.pb.gz
`

type compareOptions struct {
	names  string
	format string
	pprof  string
	output string
}

func runCompare(_ context.Context, args []string, stdout, stderr io.Writer) int {
	o := compareOptions{format: "text"}
	fs := newFlagSet("spawntrace compare", stderr)
	fs.stringVar(&o.names, "n", "names", "A,B", "what to call the two sides (default: the file names)")
	fs.stringVar(&o.format, "f", "format", "FORMAT", "text (100 columns), json or markdown (default text)")
	fs.stringVar(&o.pprof, "", "pprof", "DIR", "write A- and B-spawns.pb.gz (and CPU profiles) to DIR for pprof -diff_base")
	fs.stringVar(&o.output, "o", "output", "FILE", "write the comparison to FILE instead of stdout")
	fs.setUsage(compareHead, compareExamples)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	write, ok := compareWriters[o.format]
	if !ok {
		return fail(stderr, exitUsage, "--format %q: must be text, json or markdown", o.format)
	}
	pathA, pathB := fs.Arg(0), fs.Arg(1)
	nameA, nameB, err := compareNames(o.names, pathA, pathB)
	if err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	// Both streamed: each one's events stay on disk (a spill file each).
	a, err := analyze.Load(pathA)
	if err != nil {
		return fail(stderr, exitFailure, "%v", oneLine(err))
	}
	defer a.Close()
	noteSortedLate(stderr, pathA, a)
	b, err := analyze.Load(pathB)
	if err != nil {
		return fail(stderr, exitFailure, "%v", oneLine(err))
	}
	defer b.Close()
	noteSortedLate(stderr, pathB, b)
	c := analyze.Compare(a, b, nameA, nameB)
	if o.output != "" || o.format == "json" {
		// The text and Markdown on a terminal carry the notes already.
		for _, n := range c.Notes {
			fmt.Fprintf(stderr, "spawntrace: compare: %s\n", n)
		}
	}
	if o.pprof != "" {
		if err := writeComparePprof(o.pprof, a, b, c, stderr); err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
	}
	if o.output != "" {
		err = writeFile(o.output, func(w io.Writer) error { return write(w, c) })
	} else {
		bw := bufio.NewWriter(stdout)
		if err = write(bw, c); err == nil {
			err = bw.Flush()
		}
		if err != nil {
			err = fmt.Errorf("writing comparison: %w", err)
		}
	}
	if err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	return 0
}

var compareWriters = map[string]func(io.Writer, *analyze.Comparison) error{
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

// writeComparePprof writes each side's spawn profile (and CPU profile, when
// both recorded samples) as A-*.pb.gz and B-*.pb.gz in dir.
func writeComparePprof(dir string, a, b *analyze.Recording, c *analyze.Comparison, stderr io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	sides := []struct {
		prefix string
		rec    *analyze.Recording
	}{{"A", a}, {"B", b}}
	for _, s := range sides {
		sum := analyze.Summarize(s.rec)
		path := filepath.Join(dir, s.prefix+"-"+reports.SpawnProfileName)
		err := writeFile(path, func(w io.Writer) error { return reports.WriteSpawnProfile(w, s.rec, sum) })
		sum.Close()
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "spawntrace: spawn profiles: go tool pprof -diff_base %s %s\n",
		filepath.Join(dir, "A-"+reports.SpawnProfileName), filepath.Join(dir, "B-"+reports.SpawnProfileName))
	if a.SampleHz > 0 && b.SampleHz > 0 {
		for _, s := range sides {
			path := filepath.Join(dir, s.prefix+"-"+reports.CPUProfileName)
			if err := writeFile(path, func(w io.Writer) error { return reports.WriteCPUProfile(w, s.rec) }); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "spawntrace: CPU profiles: go tool pprof -diff_base %s %s\n",
			filepath.Join(dir, "A-"+reports.CPUProfileName), filepath.Join(dir, "B-"+reports.CPUProfileName))
	} else {
		fmt.Fprintf(stderr, "spawntrace: no CPU profiles: %s and %s were not both recorded with CPU sampling\n",
			c.A.Name, c.B.Name)
	}
	return nil
}
