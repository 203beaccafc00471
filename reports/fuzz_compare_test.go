package reports

// FuzzCompare: two recording files through compare.Compare and the writers
// of `spawntrace compare` in every format (see fuzz_report_test.go for the
// shared checks).

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/recording"
)

// compareWriters are the writers of `spawntrace compare`, in every format.
func compareWriters(c *compare.Comparison) []fuzzWriter {
	return []fuzzWriter{
		{"WriteCompare", func(w io.Writer) error { return WriteCompare(w, c) }, nil},
		{"WriteCompareMarkdown", func(w io.Writer) error { return WriteCompareMarkdown(w, c) }, nil},
		{"WriteCompareJSON", func(w io.Writer) error { return WriteCompareJSON(w, c) }, func(t *testing.T, out []byte) {
			if !json.Valid(out) {
				t.Errorf("compare JSON is not valid JSON: %.200q", out)
			}
		}},
	}
}

// FuzzCompare: two recording files through compare.Compare and every
// compare writer.
func FuzzCompare(f *testing.F) {
	recs := fuzzRecordings()
	for i, a := range recs {
		b := recs[(i+3)%len(recs)]
		f.Add(fuzzEncode(f, a), fuzzEncode(f, b))
	}
	one := fuzzEncode(f, recs[0])
	f.Add(one, one)
	f.Add(one, []byte(`{"format":"spawntrace-recording","schema":1}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ra, rb := fuzzDecode(t, a), fuzzDecode(t, b)
		if ra == nil || rb == nil {
			return
		}
		for _, names := range [][2]string{{"A", "B"}, {"same", "same"}} {
			var c *compare.Comparison
			fuzzWithin(t, 20*time.Second, "Compare", func() { c = compared(ra, rb, names[0], names[1]) })
			checkWriters(t, (len(a)+1)*(len(b)+3), compareWriters(c))
			for _, side := range []*compare.Side{&c.A, &c.B} {
				for i := range side.Patterns {
					if s := PatternText(&side.Patterns[i]); strings.Contains(s, "\n") {
						t.Errorf("PatternText of a pattern of %s is not one line: %q", side.Name, s)
					}
				}
			}
		}
	})
}

// FuzzCompareEvent: the structure-aware counterpart of FuzzCompare: side A
// is a seed recording, side B another seed with one event and one syscall
// row changed.
func FuzzCompareEvent(f *testing.F) {
	fuzzAddEdits(f, func(e fuzzEdit) {
		f.Add(e.seed+1, e.seed, e.at, e.kind, e.nr, e.ret, e.timeNs, e.durNs, e.pid, e.tid, e.copyNs, e.rss, e.flags, e.name,
			e.argc, e.calls, e.errs, e.stackID, e.sampleHz)
	})
	f.Fuzz(func(t *testing.T, other, seed, at, kind uint8, nr int16, ret int64, timeNs, durNs uint64, pid, tid uint32,
		copyNs, rss, flags uint64, name string, argc int16, calls, errs uint64, stackID int16, sampleHz int32) {
		recs := fuzzRecordings()
		a := fuzzDecode(t, fuzzEncode(t, recs[int(other)%len(recs)]))
		b := fuzzEdited(t, fuzzEdit{seed, at, kind, nr, ret, timeNs, durNs, pid, tid, copyNs, rss, flags, name, argc,
			calls, errs, stackID, sampleHz})
		if a == nil || b == nil {
			return
		}
		for _, pair := range [][2]*recording.Recording{{a, b}, {b, a}} {
			var c *compare.Comparison
			fuzzWithin(t, 20*time.Second, "Compare", func() { c = compared(pair[0], pair[1], "A", "B") })
			checkWriters(t, int(seed)*131+int(at)*7+len(name), compareWriters(c))
		}
	})
}
