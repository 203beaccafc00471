package reports

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// A row whose time was estimated from a sample of its calls is said to be
// under -c's table (how many rows, and how), and marked in compare's
// syscall rows; exact rows say nothing.
func TestEstimatedTimesSaid(t *testing.T) {
	rec := countRecording()
	var buf bytes.Buffer
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "estimated") {
		t.Errorf("exact times, yet a note says estimated:\n%s", buf.String())
	}
	rec.Syscalls = append(rec.Syscalls, recording.SyscallStat{Nr: 110, Name: "getppid", Calls: 100000, TimedCalls: 12500, TimeNs: 20_000_000})
	buf.Reset()
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	want := "spawntrace: estimated: % time, seconds and usecs/call of 1 of the "
	if !strings.Contains(buf.String(), want) || !strings.Contains(buf.String(), "(calls and errors are exact)") {
		t.Errorf("no note %q under the table:\n%s", want, buf.String())
	}

	laptop, cluster := figuresRecordings()
	for i := range cluster.Syscalls {
		if cluster.Syscalls[i].Name == "rt_sigaction" {
			cluster.Syscalls[i].TimedCalls = cluster.Syscalls[i].Calls / 8
		}
	}
	c := compared(laptop, cluster, "laptop", "cluster")
	marked := 0
	for _, r := range c.Syscalls {
		if r.EstimatedA || r.EstimatedB != (r.Name == "rt_sigaction") {
			t.Errorf("%s: estimated A %v B %v", r.Name, r.EstimatedA, r.EstimatedB)
		}
		if r.EstimatedB {
			marked++
		}
	}
	if marked != 1 {
		t.Fatalf("%d rows marked estimated, want rt_sigaction's", marked)
	}
	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WriteCompare(b, c) },
		func(b *bytes.Buffer) error { return WriteCompareMarkdown(b, c) },
	} {
		buf.Reset()
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`rt_sigaction .*~[0-9]`).MatchString(buf.String()) || !strings.Contains(buf.String(), "~: estimated") {
			t.Errorf("no ~ mark and note for the estimated row:\n%s", buf.String())
		}
	}
}
