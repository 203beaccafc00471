package recording

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/true":           "/usr/bin/true",
		"my prog":                 "my prog",
		"café":                    "café",
		"/tmp/x\x1b[31mred\nline": `/tmp/x\x1b[31mred\nline`,
		"bad\xff":                 `bad\xff`,
		`say "hi"` + "\t":         `say "hi"\t`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
