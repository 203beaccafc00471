package reports

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/fixture"
)

func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"./bench", "10000"}, "./bench 10000"},
		// 40 characters are kept whole, 41 are cut to 37 and "...".
		{[]string{strings.Repeat("é", 40)}, strings.Repeat("é", 40)},
		{[]string{strings.Repeat("é", 39), "x"}, strings.Repeat("é", 37) + "..."},
		{[]string{"./构建", "--目标=全部", "--并行=8", "--输出=/tmp/结果目录/子目录/更多的子目录"},
			"./构建 --目标=全部 --并行=8 --输出=/tmp/结果目录/子目..."},
		// An escape is kept whole or left out: never "\x1...".
		{[]string{strings.Repeat("a", 34) + "\x1b[0m"}, strings.Repeat("a", 34) + "..."},
		{[]string{"./run\x1b[31m\r\u202eexe.txt", "--flag"}, `./run\x1b[31m\r\u202eexe.txt --flag`},
		{[]string{"./run\xff\x1b]8;;https://evil.example/\x07link"}, `./run\xff\x1b]8;;https://evil.example...`},
		{nil, ""},
	} {
		got := commandLine(c.argv)
		if got != c.want {
			t.Errorf("commandLine(%q) = %q, want %q", c.argv, got, c.want)
		}
		if n := utf8.RuneCountInString(got); !utf8.ValidString(got) || n > commandLineMax {
			t.Errorf("commandLine(%q) = %q: %d characters, valid UTF-8 %v", c.argv, got, n, utf8.ValidString(got))
		}
	}
}

func TestFitEscaped(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{fitRight("laptop", 10), "laptop"},
		{fitRight("a\x1b[2Jb", 7), `a...`}, // the escape is one unit of 4: never "a\x1..."
		{fitRight("a\x1b[2Jb", 8), `a\x1b...`},
		{fitRight("ééééééé", 6), "ééé..."},
		{fitLeft("/usr/local/bin/ééé", 10), "...bin/ééé"},
		{fitLeft("/tmp/\x1b[2J/x", 8), `...[2J/x`},
		{fitLeft("/tmp/a\u202eb", 9), `...b`},
		{fitLeft("/tmp/a\u202eb", 10), `...\u202eb`},
		{cutRight("glibc posix_spawn", 8), "glibc p~"},
		{cutRight("spawn\u202ename", 8), "spawn~"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// hostileCommand is a command a forged recording could hold: an escape
// sequence, a carriage return hiding what came before, a right-to-left
// override, and enough of it to be cut.
var hostileCommand = []string{"./build\x1b[31m\x1b]52;c;cm0gLXJmIH4=\x07", "\rok", "\u202etxt.exe", "--jobs=8"}

// TestCompareCommandsEscaped: commands of many-byte characters and
// hostile ones reach the different-workloads note, the spawn table and the
// JSON cut on character boundaries and escaped; nothing a terminal acts on
// reaches any of the three outputs, and the JSON holds the commands as
// recorded.
func TestCompareCommandsEscaped(t *testing.T) {
	v := fixture.Spawns{N: 3, CloneNs: 100_000, ExecNs: 50_000, S2ENs: 150_000, IntervalNs: 300_000}
	multi := []string{"./构建", "--目标=全部", "--并行=8", "--输出=/tmp/结果目录/子目录/更多的子目录"}
	a, b := fixture.Recording(v), fixture.Recording(v)
	a.Command, b.Command = multi, hostileCommand
	c := compared(a, b, "A", "B")
	i := slices.IndexFunc(c.Notes, func(n compare.Note) bool { return n.ID == compare.NoteDifferentWorkloads })
	if i < 0 {
		t.Fatalf("no different-workloads note: %+v", c.Notes)
	}
	note := CompareNoteText(c, &c.Notes[i])
	want := "different workloads: A ran `./构建 --目标=全部 --并行=8 --输出=/tmp/结果目录/子目...`, " +
		"B ran `./build\\x1b[31m\\x1b]52;c;cm0gLXJmIH4=...`; compared per spawn, as far as that goes"
	if note != want {
		t.Errorf("note\n got %s\nwant %s", note, want)
	}
	unsafe := func(text []byte) int {
		return bytes.IndexFunc(text, func(r rune) bool {
			return r == utf8.RuneError || r < ' ' && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202e'
		})
	}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text":     func(w *bytes.Buffer) error { return WriteCompare(w, c) },
		"markdown": func(w *bytes.Buffer) error { return WriteCompareMarkdown(w, c) },
		"json":     func(w *bytes.Buffer) error { return WriteCompareJSON(w, c) },
	} {
		var out bytes.Buffer
		if err := write(&out); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(out.Bytes()) {
			t.Errorf("%s: not UTF-8", name)
		}
		if i := unsafe(out.Bytes()); i >= 0 {
			t.Errorf("%s: raw control or override at %d: %q", name, i, out.Bytes()[max(0, i-20):min(out.Len(), i+20)])
		}
		switch name {
		case "text":
			checkWidth(t, out.Bytes())
			wantWords(t, out.String(), "./构建 --目标=全部", `./build\x1b[31m`)
		case "markdown":
			wantWords(t, out.String(), "./构建 --目标=全部", `./build\x1b[31m`)
		case "json":
			var doc struct {
				A, B struct {
					Command []string `json:"command"`
				}
				Notes []struct {
					ID   string `json:"id"`
					Text string `json:"text"`
				} `json:"notes"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(doc.A.Command, multi) || !slices.Equal(doc.B.Command, hostileCommand) {
				t.Errorf("json commands %q and %q, want them as recorded", doc.A.Command, doc.B.Command)
			}
			if len(doc.Notes) != len(c.Notes) || doc.Notes[i].ID != compare.NoteDifferentWorkloads || doc.Notes[i].Text != want {
				t.Errorf("json notes %+v", doc.Notes)
			}
		}
	}
}

// Each note is worded, and the JSON carries its ID and text.
func TestCompareNotesWorded(t *testing.T) {
	c := &compare.Comparison{A: compare.Side{Name: "A"}, B: compare.Side{Name: "B"}, Notes: []compare.Note{
		{ID: compare.NoteNoSpawns, Side: "B"},
		{ID: compare.NoteSchemas, Schemas: &compare.SchemaFacts{A: 3, B: 5}},
		{ID: compare.NoteCopyUnmeasured, Side: "A"},
		{ID: compare.NoteBlockedUnmeasured, Side: "B"},
		{ID: compare.NotePtraceBackend},
		{ID: compare.NoteSpawnsOnly},
	}}
	want := []string{
		"B has no spawns: only host facts and syscall totals (per run) are compared",
		"recordings of different schema versions (3 and 5): facts only the newer one records are shown as unknown on the other side",
		`A: address-space copy not measured; its time is in "rest of the spawning call"`,
		`B: blocked time not measured; it is in "rest of the spawning call"`,
		"a side was recorded with the ptrace backend (which counts no other syscalls): the syscall table and syscalls per spawn cover the spawn-related calls alone, on both sides",
		"a side was recorded with --spawns-only (no other syscalls counted): the syscall table and syscalls per spawn cover the spawn-related calls alone, on both sides",
	}
	for i := range c.Notes {
		if got := CompareNoteText(c, &c.Notes[i]); got != want[i] {
			t.Errorf("%s:\n got %s\nwant %s", c.Notes[i].ID, got, want[i])
		}
	}
}
