package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBenchParams(t *testing.T) {
	o := benchOptions{n: 20, rss: "0, 64M,512M", env: "20", methods: "exec,fork,sh"}
	p, err := o.params()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-n", "20", "--rss", "0,67108864,536870912", "--env", "20", "--methods", "exec,fork,sh"}
	if got := workerArgs(p); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("worker args = %q, want %q", got, want)
	}
	// The worker parses what bench passes it to the same parameters.
	fs := newFlagSet("w", &bytes.Buffer{})
	var w benchOptions
	w.register(fs)
	if err := fs.Parse(workerArgs(p)); err != nil {
		t.Fatal(err)
	}
	if wp, err := w.params(); err != nil || strings.Join(workerArgs(wp), " ") != strings.Join(want, " ") {
		t.Errorf("worker's parameters = %+v, %v", wp, err)
	}

	for _, bad := range []benchOptions{
		{n: 0, rss: "0", env: "20", methods: "exec"},
		{n: benchMaxN + 1, rss: "0", env: "20", methods: "exec"},
		{n: 1, rss: "1X", env: "20", methods: "exec"},
		{n: 1, rss: "", env: "20", methods: "exec"},
		{n: 1, rss: "0", env: "0", methods: "exec"},
		{n: 1, rss: "0", env: "20000", methods: "exec"},
		{n: 1, rss: "0", env: "", methods: "exec"},
		{n: 1, rss: "0", env: "20", methods: "posix_spawn"},
		{n: 1, rss: "0", env: "20", methods: ""},
	} {
		if _, err := bad.params(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"},
		{"--methods", "spawn"},
		{"--rss", "100T"}, // more than any test host has
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), append([]string{"bench"}, args...), &stdout, &stderr); code != exitUsage {
			t.Errorf("bench %q: exit %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
		}
		if stdout.Len() > 0 || !strings.HasPrefix(stderr.String(), "spawntrace: bench: ") {
			t.Errorf("bench %q: stdout %q stderr %q", args, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"bench", "-h"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "--methods LIST") || !strings.Contains(stderr.String(), "Examples:") {
		t.Errorf("bench -h: exit %d, stderr:\n%s", code, stderr.String())
	}
}
