//go:build integration && linux

package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// TestCompareFleetIntegration records cmpWorkload four times, as four
// nodes of a fleet would run it: three spawn with posix_spawnp from a
// 64 MiB parent (n2 with 200 environment variables, n3 with a 14-entry
// PATH), one forks from a 256 MiB parent. compare groups the nodes by
// those factors, ranks the forking node first as an outlier (any other
// outlier must be n2 or n3), names the
// mechanism among its causes, and gives as its cause what `compare TYPICAL BIG` ranks
// first (on a loaded machine, a long fork's time off CPU can outweigh the
// copy: seen at load 17, 20 ms off CPU against 16 ms of copy). The nodes,
// all recorded on this host, are told apart by their files' names.
func TestCompareFleetIntegration(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	prog := compileC(t, dir, "cmpspawn", cmpWorkload)
	const spawns = 60
	nodes := []struct {
		name, mode       string
		mib, vars, paths int
	}{{"n1", "spawn", 64, 20, 2}, {"n2", "spawn", 64, 200, 2}, {"big", "fork", 256, 20, 2}, {"n3", "spawn", 64, 20, 14}}
	var paths []string
	for _, n := range nodes {
		p := filepath.Join(dir, n.name+".rec")
		env := append(cmpEnv(n.vars, n.paths, n.mode), fmt.Sprintf("CMP_MIB=%d", n.mib))
		r := runCmd(t, runOpts{env: env}, e.bin, "-w", p, "--", prog, fmt.Sprint(spawns), "64")
		if r.status != 0 {
			t.Fatalf("recording %s: %s", n.name, r)
		}
		paths = append(paths, p)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	name := func(node string) string { return host + " (" + node + ")" }

	r := runCmd(t, runOpts{}, append([]string{e.bin, "compare", "--format", "json"}, paths...)...)
	if r.status != 0 {
		t.Fatalf("compare: %s", r)
	}
	var f struct {
		Format string `json:"format"`
		Hosts  []struct {
			Name     string            `json:"name"`
			Rank     int               `json:"rank"`
			Spawns   int               `json:"spawns"`
			MedianNs float64           `json:"median_ns"`
			P90Ns    float64           `json:"p90_ns"`
			Outlier  bool              `json:"outlier"`
			Factors  map[string]string `json:"factors"`
		} `json:"hosts"`
		Typical  string `json:"typical"`
		Outliers []struct {
			Host     string         `json:"host"`
			Cause    fleetFinding   `json:"cause"`
			Findings []fleetFinding `json:"findings"`
		} `json:"outliers"`
		Factors []struct {
			Name   string `json:"name"`
			Groups []struct {
				Value string   `json:"value"`
				Hosts []string `json:"hosts"`
			} `json:"groups"`
		} `json:"factors"`
	}
	if err := json.Unmarshal(r.stdout, &f); err != nil {
		t.Fatalf("compare --format json: %v\n%s", err, r.stdout)
	}
	if len(f.Hosts) != len(nodes) {
		t.Fatalf("%d hosts, want %d", len(f.Hosts), len(nodes))
	}
	for i, h := range f.Hosts {
		t.Logf("%d. %s: median %.0f µs, p90 %.0f µs, outlier %v", h.Rank, h.Name, h.MedianNs/1e3, h.P90Ns/1e3, h.Outlier)
		if h.Spawns != spawns || h.Rank != i+1 || h.P90Ns < h.MedianNs {
			t.Errorf("host %s: rank %d, %d spawns, median %.0f, p90 %.0f", h.Name, h.Rank, h.Spawns, h.MedianNs, h.P90Ns)
		}
	}
	if top := f.Hosts[0]; top.Name != name("big") || !top.Outlier || top.Factors["spawn mechanism"] != "fork" ||
		top.Factors["parent RSS"] != "256-512 MiB" {
		t.Errorf("first host %+v, want %s, forking 256 MiB parents, an outlier", top, name("big"))
	}
	if len(f.Outliers) == 0 || f.Outliers[0].Host != name("big") {
		t.Fatalf("outliers %+v, want %s first", f.Outliers, name("big"))
	}
	// n2's and n3's costs differ by construction, if by less: on a loaded
	// machine they may pass the threshold, n1 may not.
	for _, o := range f.Outliers[1:] {
		if o.Host != name("n2") && o.Host != name("n3") {
			t.Errorf("outlier %s (cause %q): only big, n2 and n3 differ", o.Host, o.Cause.ID)
		}
	}
	o := f.Outliers[0]
	var mech *fleetFinding
	for i := range o.Findings {
		if o.Findings[i].ID == "mechanism" {
			mech = &o.Findings[i]
		}
	}
	if mech == nil || mech.Subject != name("big") || mech.Mechanism.Cause != "program-choice" || mech.CostNs <= 0 ||
		!strings.Contains(mech.Title, "forks where "+f.Typical+" uses vfork") {
		t.Errorf("the outlier's mechanism finding %+v, want the program's choice of fork, against %s", mech, f.Typical)
	}
	// The cause is what comparing the typical node with it ranks first.
	typical := ""
	for i, n := range nodes {
		if name(n.name) == f.Typical {
			typical = paths[i]
		}
	}
	if typical == "" {
		t.Fatalf("typical host %q is none of the nodes", f.Typical)
	}
	c := compareJSON(t, e, f.Typical+","+name("big"), typical, paths[2])
	var first string
	for _, cf := range c.Findings {
		if cf.Subject == name("big") && cf.CostNs > 0 {
			first = cf.ID
			break
		}
	}
	if o.Cause.ID != first || o.Cause.Subject != name("big") || o.Cause.CostNs <= 0 {
		t.Errorf("the outlier's cause %+v; compare of the two ranks %q first", o.Cause, first)
	}
	// Each factor that differs, with the node that differs alone in its
	// group (n3's longer PATH makes its environment larger too).
	group := map[string][]string{}
	for _, fc := range f.Factors {
		for _, g := range fc.Groups {
			group[fc.Name+" = "+g.Value] = g.Hosts
		}
	}
	for _, want := range []struct{ factor, node string }{{"spawn mechanism = fork", "big"}, {"spawner = glibc fork()", "big"},
		{"parent RSS = 256-512 MiB", "big"}, {"environment size = 8-16 KiB", "n2"}, {"PATH entries = 14", "n3"}} {
		if g := group[want.factor]; len(g) != 1 || g[0] != name(want.node) {
			t.Errorf("%s: hosts %q, want %s alone (factors %+v)", want.factor, g, name(want.node), f.Factors)
		}
	}

	// The text and the page say the same.
	page := filepath.Join(dir, "fleet.html")
	r = runCmd(t, runOpts{}, append([]string{e.bin, "compare", "--html", page}, paths...)...)
	if r.status != 0 {
		t.Fatalf("compare --html: %s", r)
	}
	text := string(r.stdout)
	for _, want := range []string{"     1  " + name("big") + " *", "cause: " + name("big"), "mechanism, +"} {
		if !strings.Contains(text, want) {
			t.Errorf("fleet text lacks %q:\n%s", want, text)
		}
	}
	b, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(b), "Hosts ranked by one spawn") || !strings.Contains(string(b), "forks where") {
		t.Errorf("--html page: %v", err)
	}
}

// fleetFinding is what the test reads of a fleet outlier's finding.
type fleetFinding struct {
	ID        string  `json:"id"`
	Subject   string  `json:"subject"`
	Title     string  `json:"title"`
	CostNs    float64 `json:"cost_ns_per_spawn"`
	Mechanism struct {
		Cause string `json:"cause"`
	} `json:"mechanism"`
}

// TestCompareFleetLongHostnames records one shell loop on three hosts
// with long fully qualified names (each recording in a UTS namespace of
// its own, as on three nodes): compare's text tells every host apart in
// its table, says how it shortened their names, and keeps to 100
// columns; the Markdown names them whole.
func TestCompareFleetLongHostnames(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	hosts := []string{"compute-node-0017.hpc-cluster.example.org", "compute-node-0018.hpc-cluster.example.org",
		"gpu-node-0001.hpc-cluster.example.org"}
	var paths []string
	for _, h := range hosts {
		p := filepath.Join(dir, h+".rec")
		cmd := exec.Command("/bin/sh", "-c", `echo "$1" > /proc/sys/kernel/hostname && exec "$2" -w "$3" -- /bin/sh -c 'for i in 1 2 3; do /bin/true; done'`,
			"sh", h, e.bin, p)
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("recording on %s: %v\n%s", h, err, out)
		}
		paths = append(paths, p)
	}
	r := runCmd(t, runOpts{}, append([]string{e.bin, "compare"}, paths...)...)
	if r.status != 0 {
		t.Fatalf("compare: %s", r)
	}
	text := string(r.stdout)
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}
	// The table's host cells: whole names, or names without the ending
	// that the note under the table gives.
	const ending = ".hpc-cluster.example.org"
	row := regexp.MustCompile(`^ +\d+  (\S+)( \*)? +3 `)
	cells := map[string]bool{}
	for _, l := range lines {
		if m := row.FindStringSubmatch(l); m != nil {
			cells[m[1]] = true
		}
	}
	said := strings.Contains(strings.Join(strings.Fields(text), " "), "without the ending they share, "+ending)
	for _, h := range hosts {
		if !cells[h] && !(said && cells[strings.TrimSuffix(h, ending)]) {
			t.Errorf("no table row names %s (cells %q):\n%s", h, slices.Collect(maps.Keys(cells)), text)
		}
	}
	r = runCmd(t, runOpts{}, append([]string{e.bin, "compare", "--format", "markdown"}, paths...)...)
	if r.status != 0 {
		t.Fatalf("compare --format markdown: %s", r)
	}
	for _, h := range hosts {
		if !regexp.MustCompile(`(?m)^\| \d+ \| (\*\*)?` + regexp.QuoteMeta(h) + `\b`).Match(r.stdout) {
			t.Errorf("markdown's table lacks %s:\n%s", h, r.stdout)
		}
	}
}
