package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestProgress: the line is rewritten in place with the counts, and
// cleared at the end; nothing on a file, a pipe or a buffer.
func TestProgress(t *testing.T) {
	var buf lockedBuf
	p := runProgress(&buf, 0, 10*time.Millisecond, func() (uint64, uint64) { return 7, 3 })
	time.Sleep(50 * time.Millisecond)
	p.end()
	out := buf.b.String()
	if !strings.HasPrefix(out, "\rspawntrace: recording, ") || !strings.Contains(out, "7 processes and threads started, 3 execs") ||
		!strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Errorf("progress output %q", out)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, out := range []any{f, w, &buf} {
		if p := startProgress(out.(interface{ Write([]byte) (int, error) }), 0, time.Millisecond, nil); p != nil {
			t.Errorf("%T: a progress line where stderr is not a terminal", out)
			p.end()
		}
	}
	// Ended before its delay: nothing written.
	var quiet lockedBuf
	runProgress(&quiet, time.Hour, time.Millisecond, nil).end()
	if quiet.b.Len() != 0 {
		t.Errorf("ended before the delay, wrote %q", quiet.b.String())
	}
}
