package recording

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable is reports.TermSafe for the comparison's wording (its last
// callers: analyze/compare's commandText and reports/compare.go), and goes
// when that moves to reports; unlike TermSafe it doubles the backslashes
// of a string it escapes. It returns s safe to print in a table or a
// sentence: a path or argument may hold any byte but NUL, and a newline or
// an escape sequence from a workload must not break a report or drive the
// terminal. Control characters and bytes that are not UTF-8 are escaped as
// Go quotes them; anything else, spaces included, is kept.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	return strings.ReplaceAll(q, `\"`, `"`)
}
