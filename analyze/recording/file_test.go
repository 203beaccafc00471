package recording

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/internal/synth"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// sampleRecording is a small posix_spawnp run: one clone3 vfork-like spawn
// whose child fails two execs of a PATH search, then succeeds.
func sampleRecording() *Recording {
	return &Recording{
		Version:     "test",
		Host:        Host{Hostname: "h", KernelRelease: "6.18.0", Machine: "x86_64", CPUs: 2, MemBytes: 1 << 34, PageBytes: 4096},
		Command:     []string{"./spawn", "1"},
		StartUnixNs: 1_700_000_000_000_000_000, MonoToUnixNs: 1_699_999_000_000_000_000,
		StartMonoNs: 1_000_000_000, EndMonoNs: 1_050_000_000,
		Probes:   []tracer.Probe{{Name: "syscalls:clone3", Available: true}, {Name: "syscalls:execveat", Reason: "disabled"}},
		Syscalls: []SyscallStat{{Nr: sysno.Clone3, Name: "clone3", Calls: 1, TimeNs: 9000}, {Nr: sysno.Execve, Name: "execve", Calls: 4, Errors: 2, TimeNs: 4000}},
		Events:   pathSearchEvents(),
		Lost:     tracer.Lost{Events: 3},
	}
}

// pathSearchEvents are synth's, with the PATH length its successful exec
// saw (binary version 2 on).
func pathSearchEvents() []tracer.Event {
	evs := synth.PathSearchEvents()
	for i := range evs {
		if evs[i].EnvBytes > 0 {
			evs[i].PathEntries = 3
		}
	}
	return evs
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, name := range []string{"run.json", "run.json.gz", "run.strec", "run.strec.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			want := sampleRecording()
			if err := saveFile(path, want); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			held(t, got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the recording:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	var good bytes.Buffer
	if err := Encode(&good, sampleRecording()); err != nil {
		t.Fatal(err)
	}
	full := good.String()
	cases := map[string]struct {
		data string
		want string
	}{
		"empty":         {"", "empty file"},
		"truncated":     {full[:len(full)/2], "truncated"},
		"garbage":       {"\x00\x01binary", "not a spawntrace recording"},
		"bad json":      {"{\"format\": spawn", "corrupt"},
		"not ours":      {`{"format":"pprof","schema":1}`, "not a spawntrace recording"},
		"newer schema":  {strings.Replace(full, `"schema":1`, `"schema":99`, 1), "newer than this spawntrace reads"},
		"trailing data": {full + `{"x":1}`, "data after the end"},
		"bad kind":      {strings.Replace(full, `"kind":"exit"`, `"kind":"teleport"`, 1), "unknown event kind"},
		"errors>calls":  {strings.Replace(full, `"errors":2`, `"errors":9`, 1), "9 errors out of 4 calls"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(c.data))
			if err == nil {
				t.Fatalf("accepted a bad recording")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// held reads a decoded recording's events into Events, for tests that
// index them or compare the whole recording.
func held(t testing.TB, rec *Recording) *Recording {
	t.Helper()
	if err := rec.HoldEvents(); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("want a not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// FuzzDecode: whatever the bytes, Decode returns a recording or a one-line
// error, and what it accepts can be summarized and saved again.
// saveFile saves rec to a new file at path, as spawntrace -w does.
func saveFile(path string, rec *Recording) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Save(f, EncodingFor(path), strings.HasSuffix(path, ".gz"), rec); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Which table a row or a call is of survives a save; a recording made
// before the field existed loads as all x86_64, and an unknown table is
// refused.
func TestRecordingABI(t *testing.T) {
	rec := sampleRecording()
	rec.Syscalls = append(rec.Syscalls, SyscallStat{ABI: tracer.ABII386, Nr: 2, Name: "fork", Calls: 3, TimeNs: 300})
	rec.Events[0].ABI = tracer.ABII386
	rec.Events[4].ExecABI = tracer.ABII386
	var buf bytes.Buffer
	if err := Encode(&buf, rec); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	held(t, got)
	if s := got.Syscalls[2]; s.ABI != tracer.ABII386 || got.Syscalls[0].ABI != tracer.ABIX8664 ||
		got.Events[0].ABI != tracer.ABII386 || got.Events[4].ExecABI != tracer.ABII386 || got.Events[2].ABI != tracer.ABIX8664 {
		t.Errorf("tables lost: rows %+v, events %+v %+v", got.Syscalls, got.Events[0], got.Events[4])
	}
	old := strings.NewReplacer(`"abi":"i386",`, ``, `"exec_abi":"i386",`, ``).Replace(buf.String())
	if old == buf.String() {
		t.Fatal("the recording spells the table some other way")
	}
	got, err = Decode(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	held(t, got)
	if got.Syscalls[2].ABI != tracer.ABIX8664 || got.Events[0].ABI != tracer.ABIX8664 {
		t.Errorf("an older recording is not all x86_64: %+v", got.Syscalls[2])
	}
	if _, err := Decode(strings.NewReader(strings.Replace(buf.String(), `"abi":"i386"`, `"abi":"pdp11"`, 1))); err == nil ||
		!strings.Contains(err.Error(), "unknown syscall ABI") {
		t.Errorf("an unknown table: %v", err)
	}
}

// TestSkipsRoundTrip: the kernel's skips that no second program made up
// for survive a save in either encoding; a recording made before they were
// kept (the goldens, TestBinaryGoldenLoads) loads with none.
func TestSkipsRoundTrip(t *testing.T) {
	for _, name := range []string{"run.json", "run.strec"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			want := sampleRecording()
			want.Lost.Skipped = []tracer.Skip{
				{Prog: "on_lock_released", Point: "mmap_lock:mmap_lock_released", Measure: tracer.SkipCopies, Runs: 2},
				{Prog: "on_exec", Point: "sched:sched_process_exec", Measure: tracer.SkipExecs, Runs: 1},
			}
			if err := saveFile(path, want); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			held(t, got)
			if !reflect.DeepEqual(got.Lost, want.Lost) {
				t.Errorf("lost after a round trip: %+v, want %+v", got.Lost, want.Lost)
			}
			if got.Lost.Total() != sampleRecording().Lost.Total()+3 {
				t.Errorf("total %d does not count the 3 skipped runs over %d", got.Lost.Total(), sampleRecording().Lost.Total())
			}
		})
	}
}
