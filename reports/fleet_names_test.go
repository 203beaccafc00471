package reports

import (
	"strings"
	"testing"
)

// TestFleetHostCells: long host names are shortened to the column, each
// kept apart from the others and the shortening said; short ones are
// left whole; a cut never splits an escape.
func TestFleetHostCells(t *testing.T) {
	long := func(n string) string { return "compute-" + n + "-of-the-second-hpc-cluster-rack" }
	for _, c := range []struct {
		name       string
		names      []string
		marks      []string
		wantCells  []string
		wantWidth  int
		wantInNote string
	}{
		{name: "short", names: []string{"node1", "node2 (b.rec)"}, marks: []string{" *", ""},
			wantCells: []string{"node1 *", "node2 (b.rec)"}, wantWidth: 28},
		{name: "domain", names: []string{"compute-node-0017.hpc-cluster.example.org", "compute-node-0018.hpc-cluster.example.org",
			"gpu-node-0001.hpc-cluster.example.org"}, marks: []string{"", "", " *"},
			wantCells:  []string{"compute-node-0017", "compute-node-0018", "gpu-node-0001 *"},
			wantWidth:  28,
			wantInNote: "host names without the ending they share, .hpc-cluster.example.org"},
		{name: "the middle", names: []string{long("0017"), long("0018")}, marks: []string{"", " *"},
			wantWidth: 32, wantInNote: "names longer than the column cut in the middle (...)"},
		{name: "apart only in the middle", names: []string{"rack-" + strings.Repeat("a", 20) + "-1-" + strings.Repeat("z", 30),
			"rack-" + strings.Repeat("a", 20) + "-2-" + strings.Repeat("z", 30)}, marks: []string{"", ""},
			wantWidth: 32, wantInNote: "cut in the middle"},
		{name: "escapes", names: []string{"\x1b[31m" + strings.Repeat("\x1b", 20) + "-1", "\x1b[31m" + strings.Repeat("\x1b", 20) + "-2"},
			marks: []string{"", ""}, wantWidth: 29, wantInNote: "cut in the middle"}, // 4 columns an escape
		{name: "no cut keeps them apart: whole", names: []string{strings.Repeat("a", 40) + "1" + strings.Repeat("b", 40),
			strings.Repeat("a", 40) + "2" + strings.Repeat("b", 40)}, marks: []string{"", ""}, wantWidth: 81},
	} {
		t.Run(c.name, func(t *testing.T) {
			cells, width, note := fleetHostCells(c.names, c.marks)
			if width != c.wantWidth || (c.wantInNote == "") != (note == "") || !strings.Contains(note, c.wantInNote) {
				t.Errorf("width %d, note %q; want %d, %q", width, note, c.wantWidth, c.wantInNote)
			}
			if c.wantCells != nil && strings.Join(cells, "|") != strings.Join(c.wantCells, "|") {
				t.Errorf("cells %q, want %q", cells, c.wantCells)
			}
			seen := map[string]bool{}
			for i, cell := range cells {
				shown := cellLeft(cell, width)
				if displayWidth(shown) != width || seen[shown] {
					t.Errorf("cell %q: %d columns of %d, or a repeat of another", shown, displayWidth(shown), width)
				}
				seen[shown] = true
				// What is shown of a name is its escaped text's start and end.
				head, tail, cut := strings.Cut(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(shown), c.marks[i])), "...")
				whole := TermSafe(c.names[i])
				if !strings.HasPrefix(whole, head) || cut && !strings.HasSuffix(whole, tail) {
					t.Errorf("cell %q is not a cut of %q", shown, whole)
				}
			}
		})
	}
}
