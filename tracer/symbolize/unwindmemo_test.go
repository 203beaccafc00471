package symbolize

import (
	"reflect"
	"slices"
	"testing"

	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// fresh unwinds stack as a symbolizer that has memoized nothing does.
func (c *capture) fresh(stack []byte) unwind.Result {
	s := NewSymbolizer()
	s.procRoot = c.s.procRoot
	return s.Unwind(s.Image(capturePid), c.regs, stack, nil)
}

func sameResult(a, b unwind.Result) bool {
	return slices.Equal(a.PCs, b.PCs) && a.Stop == b.Stop && a.NeedBytes == b.NeedBytes &&
		a.FramePointerFrames == b.FramePointerFrames && a.ReadBytes == b.ReadBytes &&
		reflect.DeepEqual(a.Err, b.Err)
}

func TestUnwindMemo(t *testing.T) {
	c := runCapture(t, buildCapture(t), "direct")
	first := c.s.Unwind(c.img, c.regs, c.stack, nil)
	if len(first.PCs) < 5 {
		t.Fatalf("capture unwound to %d frames (%v): too few to test the memo", len(first.PCs), first.Err)
	}
	_, words := unwind.UnwindWords(nil, nil, c.regs, c.stack, &imageResolver{s: c.s, img: c.img, maps: c.img.maps})
	read := map[uint64]bool{}
	for _, w := range words {
		for b := w.Off; b < w.Off+8; b++ {
			read[b] = true
		}
	}
	memo := func() (hits, misses int) {
		hits, misses, _, _ = c.s.UnwindMemoStats()
		return hits, misses
	}

	// Another copy from the same site: its locals differ (every byte the
	// walk did not read), its return-address slots and saved registers not.
	locals := slices.Clone(c.stack)
	changed := 0
	for i := range locals {
		if !read[uint64(i)] {
			locals[i] ^= 0x5a
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("the walk read every byte of the copy")
	}
	h0, m0 := memo()
	got := c.s.Unwind(c.img, c.regs, locals, nil)
	if h, m := memo(); h != h0+1 || m != m0 {
		t.Errorf("copy with other locals: %d hits, %d misses since; want a hit", h-h0, m-m0)
	}
	if want := c.fresh(locals); !sameResult(got, want) || !sameResult(got, first) {
		t.Errorf("memoized %#x stop %v; unwinding it gives %#x stop %v", got.PCs, got.Stop, want.PCs, want.Stop)
	}

	// Named frames are memoized with the unwind: the same as User gives.
	wantFrames, err := c.s.User(c.img, first.PCs)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, frames, err := c.s.UnwindUser(c.img, c.regs, locals, nil)
		if err != nil || !sameResult(res, first) || !reflect.DeepEqual(frames, wantFrames) {
			t.Errorf("UnwindUser: %#x, frames %v (%v); want %#x, frames %v", res.PCs, frames, err, first.PCs, wantFrames)
		}
	}
	if e := c.s.memo.lru.Front().Value.(*unwindMemoEntry); e.named == nil {
		t.Error("UnwindUser's frames were not memoized")
	}

	// One return-address slot changed (the leaf's caller's): a miss, and
	// the new walk's result.
	ra := slices.Clone(c.stack)
	raOff := -1
	for _, w := range words {
		if w.Val == first.PCs[2] {
			raOff = int(w.Off)
		}
	}
	if raOff < 0 {
		t.Fatalf("no word read holds the return address %#x", first.PCs[2])
	}
	ra[raOff] ^= 0x01
	h0, m0 = memo()
	got = c.s.Unwind(c.img, c.regs, ra, nil)
	if h, m := memo(); h != h0 || m != m0+1 {
		t.Errorf("copy with a return address changed: %d hits, %d misses since; want a miss", h-h0, m-m0)
	}
	if want := c.fresh(ra); !sameResult(got, want) || sameResult(got, first) {
		t.Errorf("got %#x stop %v; want the new walk's %#x stop %v, other than the first", got.PCs, got.Stop, want.PCs, want.Stop)
	}
	// The entry now holds that walk: the first copy misses, then hits.
	c.s.Unwind(c.img, c.regs, c.stack, nil)
	h0, m0 = memo()
	if got = c.s.Unwind(c.img, c.regs, c.stack, nil); !sameResult(got, first) {
		t.Errorf("first copy again: %#x, want %#x", got.PCs, first.PCs)
	}
	if h, m := memo(); h != h0+1 || m != m0 {
		t.Errorf("first copy again: %d hits, %d misses; want a hit", h-h0, m-m0)
	}

	// A forked child shares the image until it execs: it hits, and keeps
	// the entries when its parent exits.
	const child = capturePid + 1
	c.s.Fork(capturePid, child, monoNow())
	h0, m0 = memo()
	c.s.Unwind(c.s.Image(child), c.regs, c.stack, nil)
	if h, m := memo(); h != h0+1 || m != m0 {
		t.Errorf("forked child: %d hits, %d misses; want a hit", h-h0, m-m0)
	}
	c.s.Exit(capturePid)
	if _, _, entries, _ := c.s.UnwindMemoStats(); entries != 1 {
		t.Errorf("%d entries after the parent exited, want the child's 1", entries)
	}

	// Its exec ends the image: entries dropped, the new image misses.
	c.s.Exec(child, monoNow())
	if _, _, entries, bytes := c.s.UnwindMemoStats(); entries != 0 || bytes != 0 {
		t.Errorf("%d entries, %d bytes after the image's last process exec'd; want none", entries, bytes)
	}
	h0, m0 = memo()
	c.s.Unwind(c.s.Image(child), c.regs, c.stack, nil)
	if h, m := memo(); h != h0 || m != m0+1 {
		t.Errorf("after exec: %d hits, %d misses; want a miss", h-h0, m-m0)
	}

	// The pid reused by a new process: its own image, a miss. An unwind
	// of an image whose processes are gone (a stack queued before the
	// exit) is not kept.
	old := c.s.Image(capturePid) // made anew: the pid exited above
	c.s.Unwind(old, c.regs, c.stack, nil)
	c.s.Exit(capturePid)
	c.s.Unwind(old, c.regs, c.stack, nil)
	reused := c.s.Image(capturePid)
	if reused == old {
		t.Fatal("reused pid got the exited process's image")
	}
	h0, m0 = memo()
	c.s.Unwind(reused, c.regs, c.stack, nil)
	if h, m := memo(); h != h0 || m != m0+1 {
		t.Errorf("reused pid: %d hits, %d misses; want a miss", h-h0, m-m0)
	}
	if _, _, entries, _ := c.s.UnwindMemoStats(); entries != 2 {
		t.Errorf("%d entries, want 2 (the child's new image, the reused pid's)", entries)
	}
}

func TestUnwindMemoBounded(t *testing.T) {
	var m unwindMemo
	img := &Image{id: 1}
	img.procs.Store(1)
	res := unwind.Result{PCs: make([]uint64, 100)}
	for sp := range uint64(unwindMemoEntries + 100) {
		m.put(img, unwindKey{image: 1, regs: unwind.Regs{SP: sp}}, res, nil, nil)
	}
	if m.lru.Len() != unwindMemoEntries || len(m.byImage[1]) != unwindMemoEntries {
		t.Errorf("%d entries (%d indexed), want the bound %d", m.lru.Len(), len(m.byImage[1]), unwindMemoEntries)
	}
	big := unwind.Result{PCs: make([]uint64, 16<<10)} // 128 KiB each
	for sp := range uint64(100) {
		m.put(img, unwindKey{image: 1, regs: unwind.Regs{SP: sp}}, big, nil, nil)
	}
	if m.used > unwindMemoMaxBytes || m.lru.Len() >= unwindMemoEntries {
		t.Errorf("%d bytes in %d entries, want at most %d bytes", m.used, m.lru.Len(), unwindMemoMaxBytes)
	}
	m.drop(1)
	if m.used != 0 || m.lru.Len() != 0 || len(m.byImage) != 0 {
		t.Errorf("after drop: %d bytes, %d entries, %d images", m.used, m.lru.Len(), len(m.byImage))
	}
}
