package tracer

import (
	"bytes"
	"testing"

	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// A stack copy record is as long as its used stack; it joins the spawn
// event of its thread and entry time, read after it, and no other.
func TestStackCopyJoinsItsSpawn(t *testing.T) {
	raw := &spawntraceStackCopy{Kind: uint32(spawntraceEventKindEV_STACK_COPY), Flags: uint32(spawntraceStackCopyFlagSTACKF_AT_CAP | spawntraceStackCopyFlagSTACKF_CODE32),
		TsNs: 1000, Tid: 7, Len: 3, Ip: 0xf7f01, Sp: 0xffc00, Bp: 0x5, Di: 0x6, Cx: 0x7}
	copy(raw.Stack[:], "abc")
	b := recordBytes(raw)[:stackCopyHeader+3]
	var copies stackCopies
	if err := copies.add(b); err != nil {
		t.Fatal(err)
	}
	spawn := func(tid uint32, tsNs uint64) *Event {
		var r spawntraceSyscallSpawnEvent
		r.Sc.H.Kind, r.Sc.H.Tid, r.Sc.H.TsNs, r.Sc.Nr, r.Sc.Ret = uint32(spawntraceEventKindEV_SYSCALL_SPAWN), tid, tsNs, sysno.Clone3, 42
		var ev Event
		mustConvert(t, &r, &ev)
		copies.attach(&ev)
		return &ev
	}
	if ev := spawn(8, 1000); ev.StackCopy() != nil {
		t.Errorf("another thread's spawn took the copy")
	}
	if ev := spawn(7, 999); ev.StackCopy() != nil {
		t.Errorf("an earlier spawn of the thread took the copy")
	}
	c := spawn(7, 1000).StackCopy()
	if c == nil || c.IP != 0xf7f01 || c.SP != 0xffc00 || c.BP != 5 || c.DI != 6 || c.CX != 7 ||
		!bytes.Equal(c.Stack, []byte("abc")) || !c.AtLimit || !c.Code32 {
		t.Fatalf("copy %+v", c)
	}
	if spawn(7, 1000).StackCopy() != nil {
		t.Errorf("a copy joined two spawns")
	}

	raw.Len = 4 // more than the record holds
	if err := copies.add(b); err == nil {
		t.Errorf("a record shorter than its stack: no error")
	}
	if err := copies.add(b[:stackCopyHeader-1]); err == nil {
		t.Errorf("a record shorter than its header: no error")
	}
}
