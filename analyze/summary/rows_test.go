package summary

import (
	"cmp"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/internal/synth"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// rowsOf is a summary's rows in time order (Seq), for tests of small
// summaries.
func rowsOf(t testing.TB, s *Summary) []spawn.Spawn {
	t.Helper()
	var rows []spawn.Spawn
	if err := s.EachSpawn(func(sp *spawn.Spawn) error { rows = append(rows, *sp); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b spawn.Spawn) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range rows {
		if rows[i].Seq != i {
			t.Fatalf("row %d has Seq %d: rows missing or repeated", i, rows[i].Seq)
		}
	}
	return rows
}

// TestRowCodecCarriesEveryField fails when Spawn gains a field that
// analyze/row_codec.go does not write and read back.
func TestRowCodecCarriesEveryField(t *testing.T) {
	var full spawn.Spawn
	var n uint64
	synth.FillAll(reflect.ValueOf(&full).Elem(), &n)
	full.Seq, full.StackID, full.FailedExecs, full.EnvCount = 1<<40, -3, -1, -7 // large and negative numbers too
	// The same strings again (by number), none, and every one new.
	again := full
	again.Seq++
	other := spawn.Spawn{Comm: "sh", Exe: "/bin/\xfftrue", Mechanism: spawn.MechVfork, ExecOK: true}
	rows := []spawn.Spawn{full, {}, again, other, again}
	var enc rowEncoder
	var b []byte
	for i := range rows {
		b = enc.appendRow(b, &rows[i])
	}
	var dec rowDecoder
	rest := b
	for i, want := range rows {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			t.Fatalf("row %d: bad length", i)
		}
		payload := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		var got spawn.Spawn
		if err := dec.decode(payload, &got); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
			for j := 0; j < wv.NumField(); j++ {
				if !reflect.DeepEqual(gv.Field(j).Interface(), wv.Field(j).Interface()) {
					t.Errorf("row %d, field %s: stored %#v, read back %#v: add it to appendRow and decode",
						i, wv.Type().Field(j).Name, wv.Field(j).Interface(), gv.Field(j).Interface())
				}
			}
		}
		// Every truncation is caught, never read as a shorter row (with a
		// fresh table: the cut may fall in a string's first appearance).
		for cut := 0; cut < len(payload); cut++ {
			fresh := rowDecoder{strings: slices.Clone(dec.strings)}
			if err := fresh.decode(payload[:cut], &got); err == nil {
				t.Errorf("row %d cut to %d of %d bytes decoded without error", i, cut, len(payload))
			}
		}
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left after the rows", len(rest))
	}
	t.Logf("%d bytes for %d rows", len(b), len(rows))
}

// TestSpawnRowsSpillAndReadBack: past rowsInMemory the rows go to a file
// and come back as they went in; a failure to make the file is an error
// of EachSpawn and Err, not a short list.
func TestSpawnRowsSpillAndReadBack(t *testing.T) {
	var r spawnRows
	const n = rowsInMemory*3 + 7
	for i := 0; i < n; i++ {
		sp := spawn.Spawn{Seq: n - 1 - i, Comm: "make", Exe: "/usr/bin/cc" + strconv.Itoa(i%5), CloneDurNs: uint64(i) * 1000}
		if i%3 == 0 {
			sp.Parent = &tracer.ParentSize{RSSAnonBytes: uint64(i) << 12}
		}
		r.add(&sp)
	}
	r.finish()
	defer r.close()
	if r.file == nil || r.mem != nil {
		t.Fatalf("%d rows still in memory, want them in a file", len(r.mem))
	}
	i := 0
	err := r.each(func(sp *spawn.Spawn) error {
		if sp.Seq != n-1-i || sp.Exe != "/usr/bin/cc"+strconv.Itoa(i%5) || sp.CloneDurNs != uint64(i)*1000 || (sp.Parent != nil) != (i%3 == 0) {
			t.Fatalf("row %d read back as %+v", i, sp)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("%d rows read back, %v; want %d", i, err, n)
	}

	failing := spawnRows{open: func() (*os.File, error) { return nil, syscall.ENOSPC }}
	for i := 0; i < rowsInMemory+1; i++ {
		failing.add(&spawn.Spawn{Seq: i})
	}
	failing.finish()
	s := Summary{rows: &failing}
	if err := s.EachSpawn(func(*spawn.Spawn) error { return nil }); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("EachSpawn: %v, want ENOSPC", err)
	}
}

// TestDistHistogramWithinError: past exactMax values, percentiles come
// from the histogram and stay within DistRelErr of the exact ones, on
// values spread over six decades; N, sum and max stay exact.
func TestDistHistogramWithinError(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{exactMax, exactMax + 1, 3 * exactMax} {
		d := newDist(nil)
		vals := make([]uint64, n)
		var sum uint64
		for i := range vals {
			vals[i] = uint64(math.Exp(rnd.NormFloat64()*2+11)) + uint64(rnd.IntN(3)) // ~60 µs, from ns to s
			sum += vals[i]
			d.add(vals[i])
		}
		got := d.dist()
		slices.Sort(vals)
		if got.N != n || got.SumNs != sum || got.MaxNs != vals[n-1] || got.Approx != (n > exactMax) {
			t.Errorf("n=%d: %+v, want exact N, sum %d, max %d, approx %v", n, got, sum, vals[n-1], n > exactMax)
		}
		for _, c := range []struct {
			p   int
			got uint64
		}{{50, got.P50Ns}, {90, got.P90Ns}, {99, got.P99Ns}} {
			want := vals[(c.p*n+99)/100-1]
			if relErr := math.Abs(float64(c.got)-float64(want)) / float64(want); relErr > DistRelErr {
				t.Errorf("n=%d: p%d = %d, exact %d: %.3f%% off, more than %.3f%%", n, c.p, c.got, want, 100*relErr, 100*DistRelErr)
			}
		}
		if d.hist != nil && len(d.hist.counts)*8 > 32<<10 {
			t.Errorf("n=%d: histogram of %d buckets", n, len(d.hist.counts))
		}
	}
	// Every bucket's middle is within the error of each value in it.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1e6 + 7, 1e9, 1<<40 + 12345, math.MaxUint64} {
		mid := histMid(histIndex(v))
		if histIndex(mid) != histIndex(v) || math.Abs(float64(mid)-float64(v)) > DistRelErr*float64(v) {
			t.Errorf("value %d: bucket %d, middle %d", v, histIndex(v), mid)
		}
	}
}

// TestExactPoolBoundsManyDists: distributions sharing a pool hold at most
// exactPoolValues exact values between them (the largest turn into
// histograms first), and small ones stay exact.
func TestExactPoolBoundsManyDists(t *testing.T) {
	pool := newExactPool()
	var dists []*valueDist
	for i := 0; i < 100; i++ {
		dists = append(dists, newDist(pool))
	}
	small := newDist(pool)
	for v := 0; v < 60_000; v++ {
		for _, d := range dists {
			d.add(uint64(v))
		}
		if v < 100 {
			small.add(uint64(v))
		}
	}
	held := 0
	for _, d := range append(dists, small) {
		held += len(d.vals)
	}
	if held > exactPoolValues {
		t.Errorf("%d exact values held, the pool allows %d", held, exactPoolValues)
	}
	if small.hist != nil || small.dist().P50Ns != 49 {
		t.Errorf("a distribution of 100 values became a histogram: %+v", small.dist())
	}
	if d := dists[0].dist(); d.N != 60_000 || d.MaxNs != 59_999 {
		t.Errorf("dist = %+v", d)
	}

	// Many small distributions past the pool (a run of many classes):
	// they stay exact, and the pool does not look for one to reclaim at
	// every value (that would take minutes here).
	pool = newExactPool()
	many := make([]*valueDist, 40_000)
	for i := range many {
		many[i] = newDist(pool)
	}
	start := time.Now()
	for v := 0; v < 64; v++ {
		for _, d := range many {
			d.add(uint64(v))
		}
	}
	for _, d := range many {
		if d.hist != nil || len(d.vals) != 64 {
			t.Fatalf("a distribution of 64 values: %d exact, histogram %v", len(d.vals), d.hist != nil)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("%d values into %d distributions took %v", 64*len(many), len(many), took)
	}
}

// overlappingRecording is n spawns from three threads of one process,
// children overlapping and exiting in any order (some never), each with
// or without a PATH search and an exec of one of two programs, from
// parents of two sizes: rows finish far from time order.
func overlappingRecording(rnd *rand.Rand, n int) *recording.Recording {
	rec := &recording.Recording{StartMonoNs: 1e9, EndMonoNs: 1e9 + uint64(n)*100_000 + 1e9}
	t := rec.StartMonoNs
	for i := 0; i < n; i++ {
		t += 10_000 + uint64(rnd.IntN(90_000))
		tid := uint32(100 + rnd.IntN(3))
		child := uint32(1000 + i)
		ev := tracer.Event{Kind: tracer.KindSyscall, TimeNs: t, DurNs: 5000 + uint64(rnd.IntN(1e6)), Pid: 100, Tid: tid,
			Comm: "runner", Nr: sysno.Clone, Ret: int64(child), BlockedNs: uint64(rnd.IntN(1e5)),
			Parent: &tracer.ParentSize{RSSAnonBytes: uint64(100+900*rnd.IntN(2)) << 20, PgtablesBytes: uint64(rnd.IntN(1 << 20))}}
		if rnd.IntN(2) == 0 {
			ev.Args = []uint64{0x01200011} // glibc fork()
			ev.CopyNs = uint64(rnd.IntN(2e7))
		} else {
			ev.Args = []uint64{0x4111} // vfork-like
		}
		rec.Events = append(rec.Events, ev)
		at := t + ev.DurNs
		if rnd.IntN(3) == 0 {
			rec.Events = append(rec.Events, tracer.Event{Kind: tracer.KindSyscall, TimeNs: at + 1, DurNs: 3000, Pid: child, Tid: child,
				Nr: sysno.Execve, Ret: -2, Filename: "/usr/local/bin/tool"})
		}
		if rnd.IntN(5) != 0 {
			exe := []string{"/usr/bin/tool", "/usr/bin/cc"}[rnd.IntN(2)]
			rec.Events = append(rec.Events, tracer.Event{Kind: tracer.KindSyscall, TimeNs: at + 10_000, DurNs: 200_000, Pid: child,
				Tid: child, Nr: sysno.Execve, Filename: exe, EnvCount: 20 + rnd.IntN(3), EnvBytes: 900, TeardownNs: uint64(rnd.IntN(1e6))})
		}
		if rnd.IntN(10) != 0 {
			rec.Events = append(rec.Events, tracer.Event{Kind: tracer.KindExit, TimeNs: at + 20_000 + uint64(rnd.IntN(5e7)),
				Pid: child, Tid: child, GroupDead: true})
		}
	}
	return rec
}

// TestSummaryMatchesItsRows: what Summarize computes as rows finish, in
// any order, is what the rows give in time order: the classes (with the
// intervals of Total across rows finished out of order), the fit, and the
// mechanism distributions, exact below the cap.
func TestSummaryMatchesItsRows(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 20; trial++ {
		rec := overlappingRecording(rnd, 50+rnd.IntN(3000))
		s := summarized(t, rec)
		rows := rowsOf(t, &s)
		if !reflect.DeepEqual(s.Classes, Classes(rows)) {
			t.Fatalf("trial %d: classes differ:\n%+v\nfrom the rows:\n%+v", trial, s.Classes, Classes(rows))
		}
		if !reflect.DeepEqual(s.Fit, FitCopy(rows)) {
			t.Fatalf("trial %d: fit %+v, from the rows %+v", trial, s.Fit, FitCopy(rows))
		}
		for _, st := range s.Stats {
			var clone, cp []uint64
			for _, sp := range rows {
				if sp.Mechanism == st.Mechanism {
					clone = append(clone, sp.CloneDurNs)
					if sp.CopyNs > 0 {
						cp = append(cp, sp.CopyNs)
					}
				}
			}
			if st.Clone != exactDist(clone) || st.Copy != exactDist(cp) {
				t.Fatalf("trial %d, %s: clone %+v copy %+v, from the rows %+v %+v", trial, st.Mechanism, st.Clone, st.Copy,
					exactDist(clone), exactDist(cp))
			}
		}
		totals := 0
		for _, c := range s.Classes {
			totals += c.Total.N
		}
		if totals == 0 {
			t.Errorf("trial %d: no interval in any class's total", trial)
		}
	}
}

// exactDist is the distribution of vals by sorting them all, as
// Summarize did before it had a cap.
func exactDist(vals []uint64) Dist {
	if len(vals) == 0 {
		return Dist{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	d := Dist{N: len(s), MaxNs: s[len(s)-1]}
	for _, v := range s {
		d.SumNs += v
	}
	pct := func(p int) uint64 { return s[max((p*len(s)+99)/100, 1)-1] }
	d.P50Ns, d.P90Ns, d.P99Ns = pct(50), pct(90), pct(99)
	return d
}

// TestSummaryMemoryDoesNotGrow is the bounded-memory requirement at the
// end of a run: after Summarize, the heap holds its statistics (a few
// hundred KiB: histograms, classes) and not a row per spawn, so twice the
// spawns cost no more. The rows are on disk, ~60 bytes each.
func TestSummaryMemoryDoesNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("600k spawns")
	}
	const maxSummaryBytes = 2 << 20
	held := map[int]int64{}
	for _, n := range []int{200_000, 400_000} {
		rec := recordedSynth(t, n)
		before := synth.HeapInUse()
		start := time.Now()
		sum := summarized(t, rec)
		took := time.Since(start)
		held[n] = int64(synth.HeapInUse()) - int64(before)
		if sum.SpawnCount() != n || sum.Stats[0].Clone.N != n {
			t.Fatalf("%d spawns, stats %+v; want %d", sum.SpawnCount(), sum.Stats, n)
		}
		if !sum.Stats[0].Clone.Approx {
			t.Errorf("%d values, past the cap, and the distribution says it is exact", n)
		}
		t.Logf("%d spawns: the summary holds %d bytes (%d classes); Summarize %v; rows on disk %d bytes (%.0f/spawn)",
			n, held[n], len(sum.Classes), took, sum.rows.file.Bytes(), float64(sum.rows.file.Bytes())/float64(n))
		if held[n] > maxSummaryBytes {
			t.Errorf("%d spawns: the summary holds %d bytes, want at most %d", n, held[n], maxSummaryBytes)
		}
		runtime.KeepAlive(sum)
		sum.Close()
		rec.Close()
	}
	if grown := held[400_000] - held[200_000]; grown > 256<<10 {
		t.Errorf("twice the spawns: the summary holds %d bytes more, want it the same", grown)
	}
}

// recordedSynth records n synthetic spawns as a recording run does: the
// events on disk.
func recordedSynth(t *testing.T, n int) *recording.Recording {
	t.Helper()
	r, err := recording.NewRecorder()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	synth.Spawns(n, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil {
			t.Fatal(err)
		}
	})
	rec := &recording.Recording{}
	if err := r.Fill(rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec
}
