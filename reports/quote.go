package reports

import (
	"fmt"
	"strings"
)

// defaultStrlen is strace's default -s 32: the bytes shown of a string
// argument, and the elements shown of an argv array.
const defaultStrlen = 32

// quote is strace's string_quote in its default style: C escapes for \" \\
// \f \n \r \t \v, printable ASCII as is, every other byte in octal, with
// three digits only when an octal digit follows (so "\1x" but "\0017").
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		default:
			if c >= ' ' && c < 0x7f {
				b.WriteByte(c)
				continue
			}
			b.WriteByte('\\')
			if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7' {
				fmt.Fprintf(&b, "%03o", c)
			} else {
				fmt.Fprintf(&b, "%o", c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteArg is strace's printstr for an argv element: at most strlen bytes,
// followed by "..." when the string is longer (a string of exactly
// strlen bytes shows whole, with no "...").
func quoteArg(s string, strlen int) string {
	if len(s) > strlen {
		return quote(s[:strlen]) + "..."
	}
	return quote(s)
}

// quoteArgv is strace's printargv: up to strlen quoted elements, then
// "..." when there are more, or when the tracer could not capture them all.
func quoteArgv(argv []string, truncated bool, strlen int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, a := range argv {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == strlen {
			truncated = true
			break
		}
		b.WriteString(quoteArg(a, strlen))
	}
	if truncated {
		if len(argv) > 0 && len(argv) <= strlen {
			b.WriteString(", ")
		}
		b.WriteString("...")
	}
	b.WriteByte(']')
	return b.String()
}

// addr is strace's printaddr: NULL for 0, else hex.
func addr(p uint64) string {
	if p == 0 {
		return "NULL"
	}
	return fmt.Sprintf("%#x", p)
}

// hexC is C's "%#x": unlike Go's, it prints a zero as "0", not "0x0".
func hexC(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}
