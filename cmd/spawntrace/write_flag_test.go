package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// -w's encoding: --write-format when given, else the name's (.json,
// .json.gz: JSON; anything else binary); --write-format alone or unknown is
// refused.
func TestWriteEncoding(t *testing.T) {
	for _, c := range []struct {
		path, format string
		want         recording.Encoding
		err          string
	}{
		{"run.strec", "", recording.Binary, ""},
		{"run.strec.gz", "", recording.Binary, ""},
		{"run", "", recording.Binary, ""},
		{"run.json", "", recording.JSON, ""},
		{"run.json.gz", "", recording.JSON, ""},
		{"run.json", "binary", recording.Binary, ""},
		{"run.strec", "json", recording.JSON, ""},
		{"run.strec", "xml", 0, "unknown format"},
		{"", "json", 0, "--write-format applies to -w"},
	} {
		o := writeOptions{path: c.path, format: c.format}
		var stderr bytes.Buffer
		err := o.check(&stderr)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("-w %q --format %q: error %v, want %q", c.path, c.format, err, c.err)
			}
			continue
		}
		if got, _ := o.encoding(); err != nil || got != c.want {
			t.Errorf("-w %q --format %q: %v (%v), want %v", c.path, c.format, got, err, c.want)
		}
		if stderr.Len() > 0 {
			t.Errorf("-w %q --write-format %q: stderr %q", c.path, c.format, stderr.String())
		}
	}
}

// --format, record's and bench's old name of --write-format, still works,
// says it is deprecated, and is not in the help; given with a different
// --write-format, or with a bad value, it is refused before anything runs.
func TestWriteFormatOldName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want recording.Encoding
		err  string
	}{
		{[]string{"-w", "run.strec", "--format", "json"}, recording.JSON, ""},
		{[]string{"--format", "binary", "-w", "run.json"}, recording.Binary, ""},
		{[]string{"-w", "run.strec", "--format", "json", "--write-format", "json"}, recording.JSON, ""},
		{[]string{"-w", "run.strec", "--format", "json", "--write-format", "binary"}, 0, "old name of --write-format"},
		{[]string{"-w", "run.strec", "--format", "text"}, 0, "unknown format"},
		{[]string{"--format", "json"}, 0, "--write-format applies to -w"},
	} {
		var help, stderr bytes.Buffer
		fs := newFlagSet("spawntrace", &help)
		var o writeOptions
		o.register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		err := o.check(&stderr)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || stderr.Len() > 0 {
				t.Errorf("%q: error %v, stderr %q; want %q and nothing on stderr", c.args, err, stderr.String(), c.err)
			}
			continue
		}
		got, _ := o.encoding()
		if err != nil || got != c.want {
			t.Errorf("%q: %v (%v), want %v", c.args, got, err, c.want)
		}
		if !strings.Contains(stderr.String(), "--format is deprecated here: use --write-format") {
			t.Errorf("%q: stderr %q, want the deprecation", c.args, stderr.String())
		}
		fs.setUsage("", "")
		fs.Usage()
		if strings.Contains(help.String(), "--format") || !strings.Contains(help.String(), "--write-format FORMAT") {
			t.Errorf("help:\n%s\nwant --write-format and not --format", help.String())
		}
	}
}
