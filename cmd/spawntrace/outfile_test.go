package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A name for one of spawntrace's own descriptors (a shell's process
// substitution: -o >(grep execve)) is written through that descriptor: the
// user opened it, so it is not the symbolic link another user planted that
// openOut refuses. The same name of a descriptor not open is one line.
func TestOutputToOwnDescriptor(t *testing.T) {
	for _, prefix := range []string{"/dev/fd/", "/proc/self/fd/"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		name := prefix + strconv.Itoa(int(w.Fd()))
		var s0 outputSet
		if _, err := s0.file("-o", name); err == nil || !strings.Contains(err.Error(), "not a descriptor spawntrace was given") {
			t.Errorf("-o %s, close-on-exec (one of spawntrace's own): %v, want it refused", name, err)
		}
		s0.close()
		inherited(t, w)
		var s outputSet
		o, err := s.file("-o", name)
		if err != nil {
			t.Fatalf("-o %s: %v", name, err)
		}
		if err := s.ready(); err != nil {
			t.Fatalf("-o %s: %v", name, err)
		}
		w.Close() // spawntrace's copy is what keeps the pipe open now
		if err := o.write(func(w io.Writer) error { _, err := fmt.Fprint(w, "execve lines\n"); return err }); err != nil {
			t.Fatalf("-o %s: %v", name, err)
		}
		s.close()
		got, err := io.ReadAll(r) // ends once every write end is closed
		r.Close()
		if err != nil || string(got) != "execve lines\n" {
			t.Errorf("-o %s: the pipe read %q, %v; want the lines written", name, got, err)
		}
	}
	var s outputSet
	defer s.close()
	if _, err := s.file("-o", "/dev/fd/987654"); err == nil || !strings.Contains(err.Error(), "-o /dev/fd/987654: ") {
		t.Errorf("-o /dev/fd/987654 (not open): %v, want an error naming it", err)
	}
}

// A regular file handed over as a descriptor is written as its opener
// left it (3>>file appends): spawntrace truncates only what it opened.
func TestOutputToOwnDescriptorNotTruncated(t *testing.T) {
	path := t.TempDir() + "/log"
	if err := os.WriteFile(path, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inherited(t, f)
	var s outputSet
	defer s.close()
	o, err := s.file("-o", "/dev/fd/"+strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ready(); err != nil {
		t.Fatal(err)
	}
	if err := o.write(func(w io.Writer) error { _, err := fmt.Fprint(w, "later\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "earlier\nlater\n" {
		t.Errorf("the file holds %q, want %q", got, "earlier\nlater\n")
	}
}

// inherited clears f's close-on-exec flag, as a descriptor a shell hands
// its command has it clear.
func inherited(t *testing.T, f *os.File) {
	t.Helper()
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
}
