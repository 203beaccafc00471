package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// writeOptions are -w and --write-format, of record and bench.
//
// --write-format was --format. Elsewhere (compare --format, and in most
// tools: perf stat -j, bpftrace -f) a format flag shapes what is printed,
// so "spawntrace --format json -- make" reads as asking for a JSON report;
// record's shapes only the file -w saves, and says so in its name. The old
// name still works on record and bench, with a line on stderr.
type writeOptions struct {
	path      string
	format    string // "", "binary" or "json"
	oldFormat string // --format: the deprecated spelling of --write-format
}

func (o *writeOptions) register(fs *flagSet) {
	fs.stringVar(&o.path, "w", "write", "FILE", "save the recording to FILE (binary, or JSON when FILE ends in .json; gzipped if FILE ends in .gz)")
	fs.stringVar(&o.format, "", "write-format", "FORMAT", "with -w, save the recording as binary (what report loads fastest) or json, whatever FILE's name")
	fs.StringVar(&o.oldFormat, "format", "", "deprecated: --write-format") // not in the help
}

// encoding is how -w's file is written: --format, else as its name says
// (recording.EncodingFor).
func (o *writeOptions) encoding() (recording.Encoding, error) {
	switch o.format {
	case "binary":
		return recording.Binary, nil
	case "json":
		return recording.JSON, nil
	case "":
		return recording.EncodingFor(o.path), nil
	}
	return 0, fmt.Errorf("--write-format %s: unknown format (binary or json)", o.format)
}

// check refuses --write-format without -w, or an unknown one, before
// anything runs; it takes --format for --write-format, saying so on stderr.
func (o *writeOptions) check(stderr io.Writer) error {
	if o.oldFormat != "" {
		if o.format != "" && o.format != o.oldFormat {
			return fmt.Errorf("--format is the old name of --write-format: give one of them")
		}
		o.format = o.oldFormat
	}
	if o.format != "" && o.path == "" {
		return fmt.Errorf("--write-format applies to -w")
	}
	if _, err := o.encoding(); err != nil {
		return err
	}
	if o.oldFormat != "" {
		fmt.Fprintf(stderr, "spawntrace: --format is deprecated here: use --write-format %s (the form of -w's recording)\n",
			o.format)
	}
	return nil
}

// saveRecording writes rec to f, in the encoding o says, gzipped when
// f's name ends in .gz.
func (o *writeOptions) saveRecording(f *outFile, rec *recording.Recording) error {
	enc, err := o.encoding()
	if err != nil {
		return err
	}
	return f.write(func(w io.Writer) error { return recording.Save(w, enc, strings.HasSuffix(f.name, ".gz"), rec) })
}
