package reports

import (
	"bytes"
	"testing"
)

type hexer int

func (h hexer) String() string { return "hexer" }

func TestTermSafe(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/true":          "/usr/bin/true",
		"naïve café":             "naïve café",
		"a\x1b[2Jb":              `a\x1b[2Jb`,
		"\x1b]52;c;aGk=\x07":     `\x1b]52;c;aGk=\a`,
		"x\r\ny\tz":              `x\r\ny\tz`,
		"\u202egnp.exe":          `\u202egnp.exe`,
		"\u009b2J \x9b2J":        `\u009b2J \x9b2J`,
		"line\u2028sep\u2029par": `line\u2028sep\u2029par`,
		"del\x7f":                `del\x7f`,
		// A backslash drives no terminal: kept single, with or without
		// an escape beside it (the event lines quote it as strace does).
		`C:\dir`:        `C:\dir`,
		`C:\dir` + "\n": `C:\dir\n`,
	} {
		if got := TermSafe(in); got != want {
			t.Errorf("TermSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// A termWriter keeps its format's newlines and escapes its values'; what
// is not text formats as before.
func TestTermWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newTermWriter(&buf)
	w.printf("%s|%-6s|%d|%v|%d\n", "a\nb", "c\x1b", 42, hexer(3), hexer(3))
	w.WriteString("raw\x1b ok\n")
	w.line("one\ntwo")
	w.Flush()
	want := "a\\nb|c\\x1b |42|hexer|3\nraw\\x1b ok\none\\ntwo\n"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
}
