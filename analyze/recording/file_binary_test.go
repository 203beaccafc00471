package recording

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

var updateGolden = flag.Bool("update-strec", false, "write testdata/sample-vN.strec of the current BinaryVersion again (only with a new BinaryVersion)")

// binaryFile builds a binary recording from its parts: the version, the
// head's JSON and the events' payloads (nil: the records as given).
func binaryFile(version uint64, head string, events []*tracer.Event, records ...[]byte) []byte {
	b := []byte(binaryMagic)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendUvarint(b, uint64(len(head)))
	b = append(b, head...)
	for _, ev := range events {
		b, _ = appendEvent(b, ev)
	}
	for _, r := range records {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return append(b, 0)
}

const goodHead = `{"format":"spawntrace-recording","schema":1,"start_mono_ns":1,"end_mono_ns":9}`

// TestBinaryGoldenLoads: a binary recording of each version, as its file
// was written when that version was made, loads as the recording it was
// made of (less what that version did not carry), and this build writes
// the newest one's bytes: a change to the event codec (spill_codec.go)
// fails here, and is a new BinaryVersion.
func TestBinaryGoldenLoads(t *testing.T) {
	var now bytes.Buffer
	if err := EncodeBinary(&now, sampleRecording()); err != nil {
		t.Fatal(err)
	}
	current := filepath.Join("testdata", "sample-v"+strconv.Itoa(BinaryVersion)+".strec")
	if *updateGolden {
		if err := os.WriteFile(current, now.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for version := 1; version <= BinaryVersion; version++ {
		path := filepath.Join("testdata", "sample-v"+strconv.Itoa(version)+".strec")
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.NewReader(golden))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		held(t, got)
		want := sampleRecording()
		want.Format, want.Schema = FormatName, SchemaVersion
		if version < 2 {
			for i := range want.Events {
				want.Events[i].PathEntries = 0 // not recorded
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the version %d file loads as\n%+v\nwant\n%+v", version, got, want)
		}
		if version == BinaryVersion && !bytes.Equal(now.Bytes(), golden) {
			t.Errorf("this build writes other bytes than version %d did for the same recording: a change to the "+
				"binary layout or the event codec needs a new BinaryVersion (and the older ones kept readable)", version)
		}
	}
}

func TestDecodeBinaryRejects(t *testing.T) {
	var good bytes.Buffer
	if err := EncodeBinary(&good, sampleRecording()); err != nil {
		t.Fatal(err)
	}
	full := good.Bytes()
	clone := &tracer.Event{Kind: tracer.KindSyscall, TimeNs: 5, Tid: 1, Pid: 1, Nr: sysno.Clone3, Ret: 2, StackID: 3}
	badKind, _ := appendEvent(nil, &tracer.Event{Kind: 9, TimeNs: 5})
	withStack, _ := appendEvent(nil, &tracer.Event{Kind: tracer.KindExit, UserStack: []uint64{1}})
	cases := map[string]struct {
		data []byte
		want string
	}{
		"bad magic":     {[]byte("\x89strec\r\r\x1a\n\x01"), "bad binary header"},
		"short magic":   {[]byte("\x89st"), "bad binary header"},
		"newer version": {binaryFile(BinaryVersion+1, goodHead, nil), "binary recording version 3 is newer than this spawntrace reads"},
		"version 0":     {binaryFile(0, goodHead, nil), "not valid"},
		"no end":        {full[:len(full)-1], "truncated"},
		"cut in head":   {full[:len(binaryMagic)+10], "truncated"},
		"trailing data": {append(bytes.Clone(full), 1), "data after the end"},
		"not ours":      {binaryFile(BinaryVersion, `{"format":"pprof","schema":1}`, nil), "not a spawntrace recording"},
		"head not JSON": {binaryFile(BinaryVersion, `[1]`, nil), "not a JSON object"},
		"newer schema":  {binaryFile(BinaryVersion, strings.Replace(goodHead, `"schema":1`, `"schema":99`, 1), nil), "newer than this spawntrace reads"},
		"events in head": {binaryFile(BinaryVersion, strings.Replace(goodHead, `"schema":1`, `"schema":1,"events":[{"kind":"exit","tid":1,"pid":1}]`, 1), nil),
			"events in the head"},
		"bad kind":       {binaryFile(BinaryVersion, goodHead, nil, badKind[3:]), "unknown event kind"},
		"raw stack":      {binaryFile(BinaryVersion, goodHead, nil, withStack[3:]), "raw stack addresses"},
		"bad record":     {binaryFile(BinaryVersion, goodHead, nil, []byte{1, 0, 0xff}), "corrupt recording: event 0"},
		"stack of none":  {binaryFile(BinaryVersion, goodHead, []*tracer.Event{clone}), "event 0: stack 3 of 0"},
		"head too large": {append([]byte(binaryMagic+"\x01"), binary.AppendUvarint(nil, MaxHeadBytes+1)...), "recording refused"},
		"event too large": {append(binaryFile(BinaryVersion, goodHead, nil)[:len(binaryMagic)+2+len(goodHead)],
			binary.AppendUvarint(nil, MaxEventBytes+1)...), "an event takes more than"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec, err := Decode(bytes.NewReader(c.data))
			if err == nil {
				rec.Close()
				t.Fatalf("accepted a bad recording")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	// Every cut of a good file is refused, in one line.
	for n := range len(full) {
		if _, err := Decode(bytes.NewReader(full[:n])); err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("cut at %d of %d bytes: %v", n, len(full), err)
		}
	}
}

// A head claiming the limit in a short file costs what the file holds;
// the live processes of a binary file are bounded as a JSON one's.
func TestDecodeBinaryBounded(t *testing.T) {
	claim := append([]byte(binaryMagic+"\x01"), binary.AppendUvarint(nil, MaxHeadBytes)...)
	err := decodeBounded(t, nopCloser{bytes.NewReader(append(claim, "{}"...))}, 8<<20)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v, want a truncated file", err)
	}

	var f bytes.Buffer
	w := bufio.NewWriter(&f)
	w.Write(binaryFile(BinaryVersion, goodHead, nil)[:len(binaryMagic)+2+len(goodHead)])
	var b []byte
	for i := range 1_000_000 {
		b, _ = appendEvent(b[:0], &tracer.Event{Kind: tracer.KindSyscall, TimeNs: uint64(1000 + 10*i), DurNs: 5, Tid: 10, Pid: 10,
			Nr: sysno.Clone3, Ret: int64(100 + i), Args: []uint64{0, 88}, Clone3: &tracer.Clone3Args{ExitSignal: 17}})
		w.Write(b)
	}
	w.WriteByte(0)
	w.Flush()
	err = decodeBounded(t, nopCloser{bytes.NewReader(f.Bytes())}, 128<<20)
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "262144 processes") {
		t.Fatalf("got %v, want a refusal naming the limit of live processes", err)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
