package main

import (
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// -w's encoding: --format when given, else the name's (.json, .json.gz:
// JSON; anything else binary); --format alone or unknown is refused.
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
		{"", "json", 0, "--format applies to -w"},
	} {
		o := writeOptions{path: c.path, format: c.format}
		err := o.check()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("-w %q --format %q: error %v, want %q", c.path, c.format, err, c.err)
			}
			continue
		}
		if got, _ := o.encoding(); err != nil || got != c.want {
			t.Errorf("-w %q --format %q: %v (%v), want %v", c.path, c.format, got, err, c.want)
		}
	}
}
