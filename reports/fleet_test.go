package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/fleet"
	"github.com/spawntrace/spawntrace/analyze/recording"
)

// fleetNode is one node of a small cluster: glibc 2.36, vfork-like
// posix_spawn of small parents, 64 µs per spawn plus jitter.
func fleetNode(name string, jitterNs uint64) fixture.Spawns {
	return fixture.Spawns{
		Host: recording.Host{Hostname: name, KernelRelease: "6.1.0-18-amd64", Machine: "x86_64", CPUs: 64,
			Distro: "Debian GNU/Linux 12 (bookworm)", CPUModel: "AMD EPYC 7742 64-Core Processor", THPMode: "madvise",
			Virtualization: "none", Libc: &recording.Libc{Name: "glibc", Version: "2.36"}},
		N: 200, CloneNs: 40_000 + jitterNs, BlockedNs: 30_000, ExecNs: 30_000, S2ENs: 64_000 + jitterNs, RSSBytes: 64 << 20,
		Env: 20, Path: 5, IntervalNs: 100_000,
	}
}

// testFleet is 8 nodes: node6 runs an older distribution whose glibc
// forks (1 GiB parents); node7's PATH is 17 entries long, 12 of them
// searched in vain; node8 recorded no spawns. node2 appears twice (two
// files).
func testFleet(t *testing.T) *fleet.Fleet {
	t.Helper()
	var b fleet.Builder
	addNode := func(s fixture.Spawns, file string) {
		if err := b.Add(fixture.Recording(s), file); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 6; i++ {
		addNode(fleetNode(fmt.Sprintf("node%d", i), uint64(i)*400), fmt.Sprintf("node%d.rec", i))
	}
	addNode(fleetNode("node2", 900), "node2-again.rec")
	old := fleetNode("node6", 0)
	old.Host.Libc, old.Host.KernelRelease, old.Host.THPMode = &recording.Libc{Name: "glibc", Version: "2.17"}, "3.10.0-1160.el7.x86_64", "always"
	old.Fork, old.CloneNs, old.CopyNs, old.BlockedNs, old.TeardownNs = true, 490_000, 400_000, 20_000, 60_000
	old.ExecNs, old.S2ENs, old.RSSBytes, old.IntervalNs = 80_000, 580_000, 1<<30, 600_000
	addNode(old, "node6.rec")
	long := fleetNode("node7", 0)
	long.Failed, long.FailedNs, long.Path, long.S2ENs = 12, 15_000, 17, 64_000+12*15_000
	addNode(long, "node7.rec")
	idle := fleetNode("node8", 0)
	idle.N = 0
	addNode(idle, "node8.rec")
	return b.Fleet()
}

func TestFleetTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFleet(&b, testFleet(t)); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, b.Bytes())
	text := b.String()
	// What a user looks for: node6 first, forking for its old glibc;
	// node7 with its PATH; node2's two files told apart.
	for _, want := range []string{"     1  node6 *", "     2  node7 *", "node6 forks where node3 uses vfork [mechanism",
		"node7 searches a longer PATH [path-search", "node2 (node2-again)", "node2 (node2)", "no spawns recorded on node8"} {
		if !strings.Contains(text, want) {
			t.Errorf("fleet text lacks %q", want)
		}
	}
	golden(t, "fleet.golden", b.Bytes())
}

func TestFleetMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFleetMarkdown(&b, testFleet(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "fleet_md.golden", b.Bytes())
}

func TestFleetJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFleetJSON(&b, testFleet(t)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format   string `json:"format"`
		Typical  string `json:"typical"`
		Outliers []struct {
			Host  string `json:"host"`
			Cause struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"cause"`
		} `json:"outliers"`
		Hosts []struct {
			Name    string            `json:"name"`
			Rank    int               `json:"rank"`
			Factors map[string]string `json:"factors"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Format != "spawntrace-fleet" || len(doc.Outliers) != 2 || doc.Outliers[0].Cause.ID != "mechanism" ||
		doc.Outliers[1].Cause.ID != "path-search" || doc.Hosts[0].Factors["libc"] != "glibc 2.17" {
		t.Errorf("fleet JSON: %+v", doc)
	}
	golden(t, "fleet_json.golden", b.Bytes())
}

func TestFleetHostileNames(t *testing.T) {
	var b fleet.Builder
	for i := 0; i < 3; i++ {
		s := fleetNode(fmt.Sprintf("\x1b]0;pwned\x07%s%d", hostile, i), 0)
		if err := b.Add(fixture.Recording(s), fmt.Sprintf("n%d.rec", i)); err != nil {
			t.Fatal(err)
		}
	}
	f := b.Fleet()
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text":     func(w *bytes.Buffer) error { return WriteFleet(w, f) },
		"markdown": func(w *bytes.Buffer) error { return WriteFleetMarkdown(w, f) },
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(buf.Bytes(), "\x1b\x07") {
			t.Errorf("%s: a raw control byte from a hostname", name)
		}
	}
	for _, w := range []func() error{
		func() error { return WriteFleet(failWriter{}, f) },
		func() error { return WriteFleetMarkdown(failWriter{}, f) },
		func() error { return WriteFleetJSON(failWriter{}, f) },
	} {
		if w() == nil {
			t.Error("no error writing to a full device")
		}
	}
}

// TestFleetTableWideNames: a host named in wide characters, or with
// combining accents, leaves the hosts table's later columns in place.
func TestFleetTableWideNames(t *testing.T) {
	var b fleet.Builder
	for i, name := range []string{"节点节点节点", "no\u0301de\u0301", "node2", "node3"} {
		if err := b.Add(fixture.Recording(fleetNode(name, uint64(i)*400)), fmt.Sprintf("n%d.rec", i)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteFleet(&buf, b.Fleet()); err != nil {
		t.Fatal(err)
	}
	checkWidth(t, buf.Bytes())
	var rows []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "  rank ") || strings.Contains(l, "vfork") && strings.HasPrefix(l, "     ") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 5 {
		t.Fatalf("want the header and 4 rows:\n%s", buf.String())
	}
	// "spawns" ends at the column the spawn counts do.
	want := displayWidth(rows[0][:strings.Index(rows[0], "spawns")+len("spawns")])
	for _, r := range rows[1:] {
		i := strings.Index(r, " 200 ")
		if i < 0 || displayWidth(r[:i+4]) != want {
			t.Errorf("spawn count not ending at column %d:\n%s\n%s", want, rows[0], r)
		}
	}
}
