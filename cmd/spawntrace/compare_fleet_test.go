package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// fleetRecs writes four recordings of one workload: three hosts that
// vfork, one that forks (and copies), and returns their paths.
func fleetRecs(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	for i, host := range []string{"n1", "n2", "n3", "slow"} {
		rec := cmpRecording(20, host == "slow")
		rec.Host.Hostname = host
		scale := uint64(1)
		if host == "slow" {
			scale = 4 // and its spawns take 4 times as long, the copy too
		}
		for j := range rec.Events {
			ev := &rec.Events[j]
			ev.TimeNs = rec.StartMonoNs + (ev.TimeNs-rec.StartMonoNs)*scale
			ev.DurNs, ev.CopyNs = ev.DurNs*scale+uint64(i)*1000, ev.CopyNs*scale
		}
		rec.EndMonoNs = rec.StartMonoNs + (rec.EndMonoNs-rec.StartMonoNs)*scale
		paths = append(paths, saveRec(t, dir, host+".rec", rec))
	}
	return paths
}

// TestCompareFleet: three recordings or more make a fleet in every format;
// the forking host is ranked first and named an outlier with its cause.
func TestCompareFleet(t *testing.T) {
	dir := t.TempDir()
	paths := fleetRecs(t, dir)
	code, out, errs := runCmp(paths...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Fleet: 4 recordings of `./bench`", "     1  slow *", "Outliers, each compared with the typical host",
		"cause: slow forks where"} {
		if !strings.Contains(out, want) {
			t.Errorf("fleet text lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runCmp(append([]string{"--format", "json"}, paths...)...)
	var doc struct {
		Format   string `json:"format"`
		Outliers []struct {
			Host  string              `json:"host"`
			Cause struct{ ID string } `json:"cause"`
		} `json:"outliers"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc.Format != "spawntrace-fleet" ||
		len(doc.Outliers) != 1 || doc.Outliers[0].Host != "slow" || doc.Outliers[0].Cause.ID != "mechanism" {
		t.Errorf("--format json: exit %d, %s\n%.600s", code, errs, out)
	}
	code, out, _ = runCmp(append([]string{"--format", "markdown"}, paths...)...)
	if code != 0 || !strings.HasPrefix(out, "# spawntrace compare: 4 recordings") {
		t.Errorf("--format markdown: exit %d\n%.300s", code, out)
	}
	page := filepath.Join(dir, "fleet.html")
	code, _, errs = runCmp(append([]string{"--html", page, "-o", filepath.Join(dir, "fleet.txt")}, paths...)...)
	b, err := os.ReadFile(page)
	if code != 0 || err != nil || !strings.Contains(string(b), "Hosts ranked by one spawn") {
		t.Errorf("--html: exit %d, %s, %v", code, errs, err)
	}
	if txt, _ := os.ReadFile(filepath.Join(dir, "fleet.txt")); !strings.Contains(string(txt), "     1  slow *") {
		t.Errorf("-o: %q", txt)
	}
}

// TestCompareFleetBadInput: one bad file among N gets one line naming it.
func TestCompareFleetBadInput(t *testing.T) {
	dir := t.TempDir()
	paths := fleetRecs(t, dir)
	newer := filepath.Join(dir, "newer.rec.json")
	os.WriteFile(newer, []byte(`{"format":"spawntrace-recording","schema":99}`), 0o644)
	garbage := filepath.Join(dir, "garbage.rec")
	os.WriteFile(garbage, []byte("\x00\x01 not a recording\n"), 0o644)
	other := cmpRecording(5, false)
	other.Command = []string{"make", "-j8"}
	otherPath := saveRec(t, dir, "other.rec", other)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"newer schema", append(append([]string{}, paths...), newer), exitFailure, newer + ": "},
		{"garbage", append([]string{paths[0], garbage}, paths[1:]...), exitFailure, garbage + ": "},
		{"missing", append(append([]string{}, paths...), filepath.Join(dir, "nope.rec")), exitFailure, "no such file"},
		{"other workload", append(append([]string{}, paths...), otherPath), exitFailure,
			otherPath + `: another workload: it ran "make -j8"`},
		{"bad format", append([]string{"--format", "yaml"}, paths...), exitUsage, "must be text, json or markdown"},
		{"names", append([]string{"--names", "a,b"}, paths...), exitUsage, "--names names two recordings"},
		{"pprof", append([]string{"--pprof", dir}, paths...), exitUsage, "--pprof compares two recordings"},
		{"-o is an input", append([]string{"-o", paths[1]}, paths...), exitFailure, "are the same file"},
	} {
		code, out, errs := runCmp(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, code, errs, c.code, c.want)
		}
		if strings.Count(strings.TrimSpace(errs), "\n") != 0 || out != "" {
			t.Errorf("%s: want one line on stderr and nothing on stdout, got %q / %q", c.name, errs, out)
		}
	}
	// -o named an input: the input is untouched.
	if _, err := os.Stat(paths[1]); err != nil {
		t.Error(err)
	}
}

// TestCompareFleetSameHostname: recordings of one hostname are told apart
// by their files' names.
func TestCompareFleetSameHostname(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"mon.rec", "tue.rec", "wed.rec"} {
		rec := cmpRecording(10, false)
		rec.Host.Hostname = "builder"
		paths = append(paths, saveRec(t, dir, name, rec))
	}
	code, out, errs := runCmp(paths...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"builder (mon)", "builder (tue)", "builder (wed)", "Outliers: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestCompareHTMLTwo: compare --html writes the two-host page beside the
// text, and the text is what it is without --html.
func TestCompareHTMLTwo(t *testing.T) {
	dir := t.TempDir()
	a := saveRec(t, dir, "a.json", cmpRecording(6, false))
	b := saveRec(t, dir, "b.json", cmpRecording(6, true))
	_, plain, _ := runCmp(a, b)
	page := filepath.Join(dir, "cmp.html")
	code, out, errs := runCmp("--html", page, a, b)
	if code != 0 || out != plain {
		t.Fatalf("exit %d (%s); text with --html differs from without", code, errs)
	}
	html, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(html), "The difference per spawn, by part") {
		t.Errorf("--html page: %v\n%.300s", err, html)
	}
	code, _, errs = runCmp("--html", a, a, b)
	if code != exitFailure || !strings.Contains(errs, "are the same file") {
		t.Errorf("--html naming an input: exit %d, %q", code, errs)
	}
}

// TestCompareFleetFIFOs: a fleet's recordings may be FIFOs (mkfifo; zcat
// host.rec.gz > host.fifo &), which give their bytes once: each is opened
// once, and read through that descriptor. Opened twice, the first open
// left unread (the writer got EPIPE) and the second waited for a writer
// for good.
func TestCompareFleetFIFOs(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, host := range []string{"n1", "n2", "n3", "n4"} {
		rec := cmpRecording(100, false) // more than a pipe holds
		rec.Host.Hostname = host
		paths = append(paths, saveRec(t, dir, host+".rec", rec))
	}
	var fifos []string
	lost := make([]atomic.Int32, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) <= pipeBytes {
			t.Fatalf("%s: %d bytes: a recording must fill the pipe for its writer to see a reader leave", p, len(data))
		}
		fifo := filepath.Join(dir, fmt.Sprintf("host%d.fifo", i))
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		fifos = append(fifos, fifo)
		// The writer gives the recording to the first reader that reads it
		// all; a reader that leaves first costs it an EPIPE, counted, and
		// it serves the next one (so that the old reader does not hang).
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for a reader
				if err != nil {
					t.Error(err)
					return
				}
				unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, pipeBytes)
				_, err = w.Write(data)
				w.Close()
				if !errors.Is(err, unix.EPIPE) {
					return
				}
				lost[i].Add(1)
			}
		}()
	}
	code, out, errs := runCmp(fifos...)
	wg.Wait()
	if code != 0 || !strings.Contains(out, "Fleet: 4 recordings of `./bench`") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errs, out)
	}
	for i := range lost {
		if n := lost[i].Load(); n != 0 {
			t.Errorf("%s was opened and left unread %d times", fifos[i], n)
		}
	}
}

// pipeBytes is the smallest pipe buffer Linux allows, a page.
const pipeBytes = 4096
