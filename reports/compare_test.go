package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

func withFeatures(h recording.Host, fentry bool) recording.Host {
	no := tracer.Feature{Reason: "not built in"}
	f := &tracer.Features{BTF: tracer.Feature{Available: true}, SyscallTracepoints: tracer.Feature{Available: true},
		MmapLockTracepoints: tracer.Feature{Available: true}, Fentry: no, Kprobes: tracer.Feature{Available: true}}
	if fentry {
		f.Fentry = tracer.Feature{Available: true}
	}
	h.Features = f
	return h
}

// figuresComparison is the published laptop/cluster pair with a 1 GiB
// parent: 10 000 spawns in 0.64 s on the laptop (glibc 2.35, kernel 5.15,
// vfork-like) and in 5.8 s on the cluster (glibc 2.17, kernel 3.10, fork).
func figuresComparison() *compare.Comparison {
	laptop, cluster := figuresRecordings()
	return compared(laptop, cluster, "laptop", "cluster")
}

// figuresRecordings are figuresComparison's two recordings.
func figuresRecordings() (laptopRec, clusterRec *recording.Recording) {
	laptop := fixture.Spawns{
		Host: withFeatures(recording.Host{Hostname: "laptop", KernelRelease: "5.15.0-91-generic", Machine: "x86_64",
			Distro: "Ubuntu 22.04.3 LTS", CPUModel: "Intel(R) Core(TM) i7-1185G7", CPUs: 8, MemBytes: 32 << 30, PageBytes: 4096,
			THPMode: "madvise", Virtualization: "none", Libc: &recording.Libc{Name: "glibc", Version: "2.35"}}, true),
		N: 10_000, CloneNs: 40_000, BlockedNs: 30_000, ExecNs: 30_000, S2ENs: 64_000, RSSBytes: 1 << 30, Env: 20, Path: 5, IntervalNs: 64_000,
		Version: "v0.3.0", StartUnixNs: 1_700_000_000e9,
	}
	cluster := fixture.Spawns{
		Host: withFeatures(recording.Host{Hostname: "node017", KernelRelease: "3.10.0-1160.el7.x86_64", Machine: "x86_64",
			Distro: "CentOS Linux 7 (Core)", CPUModel: "AMD EPYC 7742 64-Core Processor", CPUs: 128, MemBytes: 512 << 30,
			PageBytes: 4096, THPMode: "always", Virtualization: "none", Libc: &recording.Libc{Name: "glibc", Version: "2.17"}}, false),
		Fork: true, N: 10_000, CloneNs: 490_000, CopyNs: 400_000, BlockedNs: 20_000, TeardownNs: 60_000, ExecNs: 80_000,
		S2ENs: 580_000, RSSBytes: 1 << 30, Env: 20, Path: 5, IntervalNs: 580_000, Lost: tracer.Lost{Events: 12},
		Version: "v0.3.0", StartUnixNs: 1_700_000_000e9,
	}
	return fixture.Recording(laptop), fixture.Recording(cluster)
}

func checkWidth(t *testing.T, text []byte) {
	t.Helper()
	for i, line := range strings.Split(string(text), "\n") {
		if n := displayWidth(line); n > lineWidth {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d ends in a space: %q", i+1, line)
		}
	}
}

func TestCompareTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCompare(&b, figuresComparison()); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, b.Bytes())
	golden(t, "compare.golden", b.Bytes())
}

func TestCompareMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCompareMarkdown(&b, figuresComparison()); err != nil {
		t.Fatal(err)
	}
	golden(t, "compare_md.golden", b.Bytes())
}

func TestCompareJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCompareJSON(&b, figuresComparison()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format string `json:"format"`
		A      struct {
			Name     string `json:"name"`
			Patterns []struct {
				Text   string `json:"text"`
				Spawns int    `json:"spawns"`
			} `json:"patterns"`
		} `json:"a"`
		B struct {
			Patterns []struct {
				Text string `json:"text"`
			} `json:"patterns"`
		} `json:"b"`
		Breakdown []struct {
			Share float64 `json:"share_pct"`
		} `json:"breakdown"`
		Findings []struct {
			ID        string  `json:"id"`
			Title     string  `json:"title"`
			Evidence  string  `json:"evidence"`
			Share     float64 `json:"share_pct"`
			Mechanism struct {
				Cause string `json:"cause"`
			} `json:"mechanism"`
		} `json:"findings"`
		Host []struct {
			Fact    string `json:"fact"`
			Differs bool   `json:"differs"`
		} `json:"host"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.Bytes())
	}
	if doc.Format != "spawntrace-comparison" || doc.A.Name != "laptop" || len(doc.A.Patterns) != 1 ||
		doc.A.Patterns[0].Text != "clone3(CLONE_VM|CLONE_VFORK) -> execve" || doc.A.Patterns[0].Spawns != 10_000 ||
		doc.B.Patterns[0].Text != "clone(SIGCHLD) -> execve" {
		t.Errorf("doc = %+v", doc)
	}
	var sum float64
	for _, r := range doc.Breakdown {
		sum += r.Share
	}
	if sum < 99.5 || sum > 100.5 {
		t.Errorf("shares add up to %.2f", sum)
	}
	// Each finding carries its data and, beside it, its wording.
	if len(doc.Findings) == 0 || doc.Findings[0].ID != "mechanism" || doc.Findings[0].Mechanism.Cause != "old-glibc" ||
		doc.Findings[0].Title != "cluster forks where laptop uses vfork" ||
		!strings.Contains(doc.Findings[0].Evidence, "glibc 2.17 is older than 2.24") {
		t.Errorf("findings %+v", doc.Findings)
	}
}

func TestPatternText(t *testing.T) {
	p := &compare.Pattern{Steps: []compare.PatternStep{
		{Syscall: "socketpair", Nr: sysno.Socketpair, Domain: 1, Flags: 0x80005, Count: 1},
		{Syscall: "clone", Nr: sysno.Clone, Flags: 0x11, Count: 1},
		{Syscall: "execve", Nr: sysno.Execve, Errno: 2, Count: 13},
		{Syscall: "execve", Nr: sysno.Execve, Count: 1},
	}}
	want := "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) -> clone(SIGCHLD) -> execve ENOENT x13 -> execve"
	if got := PatternText(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	p = &compare.Pattern{Steps: []compare.PatternStep{{Syscall: "vfork", Nr: sysno.Vfork, Count: 1}}, NoExec: true}
	if got := PatternText(p); got != "vfork() -> (no exec)" {
		t.Errorf("got %s", got)
	}
}

func TestCompareRustNote(t *testing.T) {
	s := fixture.Spawns{Fork: true, Rust: true, N: 3, CloneNs: 100_000, ExecNs: 50_000, S2ENs: 200_000, IntervalNs: 300_000,
		Host: recording.Host{Libc: &recording.Libc{Name: "glibc", Version: "2.17"}}}
	v := fixture.Spawns{N: 3, CloneNs: 100_000, ExecNs: 50_000, S2ENs: 150_000, IntervalNs: 300_000}
	c := compared(fixture.Recording(v), fixture.Recording(s), "A", "B")
	var b bytes.Buffer
	if err := WriteCompare(&b, c); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, b.Bytes())
	for _, want := range []string{"socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) -> clone(SIGCHLD) -> execve",
		"recvfrom is not traced", "B forks where A uses vfork"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestCompareNoSpawns(t *testing.T) {
	v := fixture.Spawns{N: 3, CloneNs: 100_000, ExecNs: 50_000, S2ENs: 150_000, IntervalNs: 300_000}
	empty := fixture.Recording(fixture.Spawns{})
	empty.EndMonoNs += 5e6
	c := compared(fixture.Recording(v), empty, "A", "B")
	var b bytes.Buffer
	if err := WriteCompare(&b, c); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, b.Bytes())
	for _, want := range []string{"note: B has no spawns", "B: no spawns", "sorted by the time per run"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteCompareMarkdown(&b, c); err != nil {
		t.Fatal(err)
	}
}

func TestCompareWriteError(t *testing.T) {
	c := figuresComparison()
	for name, w := range map[string]func() error{
		"text":     func() error { return WriteCompare(failWriter{}, c) },
		"markdown": func() error { return WriteCompareMarkdown(failWriter{}, c) },
		"json":     func() error { return WriteCompareJSON(failWriter{}, c) },
	} {
		if err := w(); err == nil {
			t.Errorf("%s: no error on a failing writer", name)
		}
	}
}

// summarized and compared are Summarize and Compare for tests of the
// writers, whose recordings are in memory or just loaded: an error from
// them is a bug, and fails the test (from any goroutine) as a panic.
func summarized(rec *recording.Recording) summary.Summary {
	s, err := summary.Summarize(rec)
	if err != nil {
		panic(err)
	}
	return s
}

func compared(a, b *recording.Recording, nameA, nameB string) *compare.Comparison {
	c, err := compare.Compare(a, b, nameA, nameB)
	if err != nil {
		panic(err)
	}
	return c
}

// TestCompareTableWideNames: hostnames of East Asian wide characters (two
// columns each) or with combining accents (none), and side names of wide
// characters, leave the tables' columns where they are: every row's later
// cells start at the column the header's do.
func TestCompareTableWideNames(t *testing.T) {
	a, b := figuresRecordings()
	a.Host.Hostname, b.Host.Hostname = "ホスト名ホスト名", "e\u0301e\u0301e\u0301-node"
	var buf bytes.Buffer
	if err := WriteCompare(&buf, compared(a, b, "真真.rec", "b\u0301.rec")); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, buf.Bytes())
	// The host facts: B's value starts at column 2+23+1+34+1.
	const bCol = 61
	var hostname, part, total string
	for _, l := range strings.Split(buf.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "  hostname "):
			hostname = l
		case strings.HasPrefix(l, "  part "):
			part = l
		case strings.HasPrefix(l, "  total "):
			total = l
		}
	}
	if i := strings.Index(hostname, "e\u0301e\u0301e\u0301-node"); i < 0 || displayWidth(hostname[:i]) != bCol {
		t.Errorf("B's hostname not at column %d:\n%s", bCol, hostname)
	}
	// The cost table: the side names end where the durations below them do.
	for _, name := range []string{"真真.rec", "b\u0301.rec"} {
		i := strings.Index(part, name)
		if i < 0 {
			t.Fatalf("no %q in %q", name, part)
		}
		end := displayWidth(part[:i+len(name)])
		if end != 2+28+15 && end != 2+28+30 {
			t.Errorf("%s ends at column %d, want %d or %d:\n%s\n%s", name, end, 2+28+15, 2+28+30, part, total)
		}
	}
}

// TestCompareTextLongNames: side names as long as recordings' file names
// often are still give lines of at most 100 columns, findings' titles
// included: a title too long for one line wraps under itself.
func TestCompareTextLongNames(t *testing.T) {
	a, b := figuresRecordings()
	const nameA, nameB = "laptop-2023-11-14-before-the-upgrade.rec", "node017-2023-11-15-after-the-upgrade-of-glibc.rec"
	var buf bytes.Buffer
	if err := WriteCompare(&buf, compared(a, b, nameA, nameB)); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, buf.Bytes())
	// The first finding's title, whole, across its lines.
	_, findings, _ := strings.Cut(buf.String(), "\nFindings (ranked by the part of the difference they explain)\n 1. ")
	title := strings.Join(strings.Fields(findings), " ")
	if want := nameB + " forks where " + nameA + " uses vfork [mechanism, "; !strings.HasPrefix(title, want) {
		t.Errorf("first finding %q..., want it to start %q", title[:min(len(title), len(want))], want)
	}
}

// TestMdCode: a recording's command line in Markdown is one code span
// whatever it holds: backticks in it cannot end the span, a newline
// cannot end the line, and markup or HTML stays text.
func TestMdCode(t *testing.T) {
	for in, want := range map[string]string{
		"./bench 10000":          "`./bench 10000`",
		"sh -c `id`":             "`` sh -c `id` ``", // a space each side, which the renderer strips
		"a``b <script>":          "```a``b <script>```",
		"x\n# pwned":             "`x\\n# pwned`",
		"**bold** | _it_ [l](u)": "`**bold** | _it_ [l](u)`",
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
}
