package recording

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileGz streams a gzip'ed recording that body writes (after the
// header keys) through a pipe: the file is never whole in memory, and a
// reader that stops early stops the writer too.
func hostileGz(body func(w *bufio.Writer)) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		w := bufio.NewWriterSize(zw, 1<<16)
		w.WriteString(`{"format":"spawntrace-recording","schema":1,"host":{},"start_mono_ns":1,` +
			`"end_mono_ns":9000000000000,"probes":[],"syscalls":[],"lost":{}`)
		body(w)
		err := w.Flush()
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// repeat writes n bytes of s over and over.
func repeat(w *bufio.Writer, s string, n int) {
	chunk := strings.Repeat(s, (64<<10)/len(s))
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.WriteString(chunk[:k]); err != nil {
			return // the reader stopped
		}
		n -= k
	}
}

// decodeBounded decodes r, failing the test when that takes longer than a
// generous timeout (a quadratic decoder would not end) or when the heap
// grows past maxHeap meanwhile (sampled every few milliseconds). It
// returns Decode's error.
func decodeBounded(t *testing.T, r io.ReadCloser, maxHeap uint64) error {
	t.Helper()
	defer r.Close()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > base && v-base > peak.Load() {
				peak.Store(v - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		rec, err := Decode(r)
		if err == nil {
			rec.Close()
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("Decode still running after 3 minutes")
	}
	close(stop)
	<-sampled
	t.Logf("heap grew by at most %d MiB", peak.Load()>>20)
	if p := peak.Load(); p > maxHeap {
		t.Errorf("heap grew by %d MiB while decoding, want at most %d MiB", p>>20, maxHeap>>20)
	}
	return err
}

// 1 GiB of white space between two keys: json.Decoder alone scanned the
// space again at each refill and held it all (100 MB took 128 s, 2 GB
// never ended); squashed, it is one pass in a few KiB.
func TestDecodeWhiteSpaceLinear(t *testing.T) {
	r := hostileGz(func(w *bufio.Writer) {
		w.WriteString(",")
		repeat(w, " \n\t\r", 1<<30)
		w.WriteString(`"events":[]}`)
	})
	if err := decodeBounded(t, r, 16<<20); err != nil {
		t.Fatalf("a valid recording with white space refused: %v", err)
	}
}

// White space inside strings is content and stays.
func TestSquashSpaceKeepsStrings(t *testing.T) {
	in := `{ "a" :  "x  \"  y\\" ,` + "\n\n  " + `"b":[1,  2]}`
	b, err := io.ReadAll(&squashSpace{r: strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{ "a" : "x  \"  y\\" ,` + "\n" + `"b":[1, 2]}`; string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}
}

// A key this version does not know holding a 1 GiB array: it was kept
// whole, then decoded again (5.3 GB of RSS); it is now read without being
// kept and refused once the parts besides the events pass MaxHeadBytes.
func TestDecodeUnknownKeyBounded(t *testing.T) {
	r := hostileGz(func(w *bufio.Writer) {
		w.WriteString(`,"junk":[0`)
		repeat(w, ",0", 1<<30)
		w.WriteString(`],"events":[]}`)
	})
	err := decodeBounded(t, r, 3*MaxHeadBytes+64<<20)
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "64 MiB") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want a one-line refusal naming the 64 MiB limit", err)
	}
	t.Log(err)
}

// A million processes spawned and never exited: the summary kept each
// one's spawn open (760 MB); the file is refused past MaxLiveTasks.
func TestDecodeLiveProcessesBounded(t *testing.T) {
	r := hostileGz(func(w *bufio.Writer) {
		w.WriteString(`,"events":[`)
		for i := 0; i < 1_000_000; i++ {
			if i > 0 {
				w.WriteByte(',')
			}
			_, err := fmt.Fprintf(w, `{"kind":"syscall","t_ns":%d,"dur_ns":5,"tid":10,"pid":10,"nr":435,"ret":%d,`+
				`"args":[0,88],"clone3":{"flags":0,"exit_signal":17}}`, 1000+10*i, 100+i)
			if err != nil {
				return
			}
		}
		w.WriteString(`]}`)
	})
	err := decodeBounded(t, r, 128<<20)
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "262144 processes") {
		t.Fatalf("got %v, want a refusal naming the limit of live processes", err)
	}

	// Exits free their place: as many spawns that each exit are read.
	r = hostileGz(func(w *bufio.Writer) {
		w.WriteString(`,"events":[`)
		for i := 0; i < 300_000; i++ {
			if i > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, `{"kind":"syscall","t_ns":%d,"dur_ns":5,"tid":10,"pid":10,"nr":435,"ret":%d,"args":[0,88],`+
				`"clone3":{"flags":0,"exit_signal":17}},{"kind":"exit","t_ns":%d,"tid":%d,"pid":%d,"group_dead":true}`,
				1000+10*i, 100+i, 1005+10*i, 100+i, 100+i)
		}
		w.WriteString(`]}`)
	})
	if err := decodeBounded(t, r, 128<<20); err != nil {
		t.Fatalf("300 000 spawns that exit refused: %v", err)
	}
}

// One event, or one key, larger than MaxEventBytes is refused before it is
// held whole.
func TestDecodeHugeEventBounded(t *testing.T) {
	r := hostileGz(func(w *bufio.Writer) {
		w.WriteString(`,"events":[{"kind":"exec","t_ns":5,"tid":1,"pid":1,"filename":"`)
		repeat(w, "a", 256<<20)
		w.WriteString(`"}]}`)
	})
	err := decodeBounded(t, r, 16*MaxEventBytes)
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "an event takes more than") {
		t.Fatalf("got %v, want a refusal of the event", err)
	}
	r = hostileGz(func(w *bufio.Writer) {
		w.WriteString(`,"`)
		repeat(w, "k", 256<<20)
		w.WriteString(`":1,"events":[]}`)
	})
	err = decodeBounded(t, r, 16*MaxEventBytes)
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "a key longer than") {
		t.Fatalf("got %v, want a refusal of the key", err)
	}
}
