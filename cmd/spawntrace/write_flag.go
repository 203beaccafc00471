package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// writeOptions are -w and --format, of record and bench.
type writeOptions struct {
	path   string
	format string // "", "binary" or "json"
}

func (o *writeOptions) register(fs *flagSet) {
	fs.stringVar(&o.path, "w", "write", "FILE", "save the recording to FILE (binary, or JSON when FILE ends in .json; gzipped if FILE ends in .gz)")
	fs.stringVar(&o.format, "", "format", "FORMAT", "with -w, save the recording as binary (what report loads fastest) or json, whatever FILE's name")
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
	return 0, fmt.Errorf("--format %s: unknown format (binary or json)", o.format)
}

// check refuses --format without -w, or an unknown one, before anything runs.
func (o *writeOptions) check() error {
	if o.format != "" && o.path == "" {
		return fmt.Errorf("--format applies to -w")
	}
	_, err := o.encoding()
	return err
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
