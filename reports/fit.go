package reports

import "unicode/utf8"

// A cell in a table is cut to its width in columns (width.go); fmt pads
// by characters, which padRight does by columns. What is cut is the escaped text (TermSafe), one escape
// or character at a time: a cut never falls inside a UTF-8 character, nor
// inside an escape such as \x1b, which would then read as other text.

// termUnits calls f with each character of s as TermSafe writes it (one
// character, or the escape standing for a rune or a byte) and its width.
func termUnits(s string, f func(unit string, width int)) {
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		u := TermSafe(s[i : i+size])
		f(u, displayWidth(u))
		i += size
	}
}

// fitRight is s escaped, cut to width characters by cutting its end
// ("...").
func fitRight(s string, width int) string { return cutEnd(s, width, "...") }

// cutRight is s escaped, cut to width characters by cutting its end ("~").
func cutRight(s string, width int) string { return cutEnd(s, width, "~") }

func cutEnd(s string, width int, mark string) string {
	safe := TermSafe(s)
	if displayWidth(safe) <= width || width <= len(mark) {
		return safe
	}
	var out []byte
	n, room := 0, width-len(mark)
	termUnits(s, func(u string, w int) {
		if n+w <= room {
			out = append(out, u...)
		}
		n += w // past room, nothing is added again
	})
	return string(out) + mark
}

// fitLeft is s escaped, cut to width characters by cutting its start,
// which for a path keeps the part that tells binaries apart:
// ".../bin/sleep".
func fitLeft(s string, width int) string {
	safe := TermSafe(s)
	if displayWidth(safe) <= width || width < 4 {
		return safe
	}
	var units []string
	var widths []int
	termUnits(s, func(u string, w int) { units, widths = append(units, u), append(widths, w) })
	start, n := len(units), 0
	for start > 0 {
		w := widths[start-1]
		if n+w > width-3 {
			break
		}
		n += w
		start--
	}
	out := "..."
	for _, u := range units[start:] {
		out += u
	}
	return out
}
