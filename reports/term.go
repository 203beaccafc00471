package reports

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// A recording may come from anywhere, and comm, file names and argv from
// any program: a string of theirs must not drive the terminal a report is
// read on (ESC and CSI sequences, OSC 8 links, OSC 52 clipboard writes, a
// carriage return or a bidi override hiding what follows) nor forge a
// line (a newline then "spawntrace: lost events: 0"). Every text writer
// (the count report, the spawn section, the anatomy and the findings, the
// class table, compare as text and as Markdown) writes through one
// termWriter, the one place that escapes them:
//
//   - everything written is filtered: a byte or rune that is not printable
//     (C0 and C1 controls, DEL, bytes that are not UTF-8, Unicode format
//     and separator characters such as U+202E and U+2028) is written as
//     its Go escape (\x1b, \r, \u202e, \xff), whatever it came from;
//   - a newline is kept only where the writer puts it: in a format, in
//     WriteString, or ending a line. The values printf formats, and the
//     text line is given, have theirs escaped too (\n).
//
// The event lines (-o) quote strings as strace does (quote.go) and JSON is
// escaped by encoding/json: neither needs this.
type termWriter struct {
	w       *bufio.Writer
	scratch []byte
}

func newTermWriter(w io.Writer) *termWriter {
	return &termWriter{w: bufio.NewWriter(w)}
}

// Write writes p with every unprintable rune but the newline escaped.
func (t *termWriter) Write(p []byte) (int, error) {
	t.scratch = appendTermSafe(t.scratch[:0], string(p), true)
	if _, err := t.w.Write(t.scratch); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write for a string.
func (t *termWriter) WriteString(s string) (int, error) {
	t.scratch = appendTermSafe(t.scratch[:0], s, true)
	if _, err := t.w.Write(t.scratch); err != nil {
		return 0, err
	}
	return len(s), nil
}

// printf is fmt.Fprintf with the format written as it is (newlines kept)
// and every value that formats as text (a string, a named string type, a
// Stringer, an error) escaped, newlines included.
func (t *termWriter) printf(format string, args ...any) {
	for i, a := range args {
		args[i] = termArg(a)
	}
	fmt.Fprintf(t, format, args...)
}

// line writes s, newlines in it escaped, and a newline.
func (t *termWriter) line(s string) {
	t.scratch = appendTermSafe(t.scratch[:0], s, false)
	t.scratch = append(t.scratch, '\n')
	t.w.Write(t.scratch)
}

func (t *termWriter) Flush() error { return t.w.Flush() }

// termArg is a printf argument with its text escaped, or a as it is when
// it is not text (numbers, booleans) or its text needs no escape (so that
// a Stringer formatted with %d or %x still formats as before).
func termArg(a any) any {
	var s string
	switch v := a.(type) {
	case nil:
		return a
	case string:
		return TermSafe(v)
	case []byte:
		s = string(v)
	case error:
		s = v.Error()
	case fmt.Stringer:
		s = v.String()
	default:
		rv := reflect.ValueOf(a)
		if rv.Kind() != reflect.String {
			return a
		}
		s = rv.String()
	}
	if safe := TermSafe(s); safe != s {
		return safe
	}
	return a
}

// TermSafe returns s with every rune a terminal would act on, newlines
// included, written as its Go escape; s itself when there is none.
func TermSafe(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return string(appendTermSafe(nil, s, false))
		}
	}
	return s
}

// appendTermSafe appends s to dst, escaping each rune that is not
// printable (unicode.IsPrint, or a space) and each byte that is not UTF-8;
// a newline is kept when keepNewline says so.
func appendTermSafe(dst []byte, s string, keepNewline bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c < 0x7f || c == '\n' && keepNewline {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\x`...)
			dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		case c >= 0x80 && unicode.IsPrint(r):
			dst = append(dst, s[i:i+size]...)
		default:
			// strconv's escapes: \n, \r, \t, \x1b, \u202e, \U000e0001.
			q := strconv.QuoteRuneToASCII(r)
			dst = append(dst, q[1:len(q)-1]...)
		}
		i += size
	}
	return dst
}
