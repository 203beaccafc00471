package reports

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// The fleet table's host column is at least fleetHostMinWidth columns
// (the header's) and at most fleetHostMaxWidth, so that a row keeps to
// 100 columns: hosts' names longer than that are shortened, each kept
// apart from the others, and a note under the table says how.
const (
	fleetHostMinWidth = 28
	fleetHostMaxWidth = 32
)

// fleetHostCells are the table's host cells, as cellLeft takes them
// (escaped there): each host's name
// followed by its mark (" *" for an outlier, "" else), shortened as the
// returned note says ("" when every name is whole), all distinct, and the
// column's width. A common ending of the names (".cluster.example.org")
// goes first; a name still too long loses its middle ("..."), as much
// of its end kept as tells it from the others; when no cut keeps them
// apart, the column widens to the longest name instead.
func fleetHostCells(names, marks []string) (cells []string, width int, note string) {
	shown := slices.Clone(names)
	if widestCell(shown, marks) > fleetHostMaxWidth {
		if end := commonEnding(shown); end != "" {
			for i := range shown {
				shown[i] = strings.TrimSuffix(shown[i], end)
			}
			note = "host names without the ending they share, " + end
		}
	}
	if widestCell(shown, marks) > fleetHostMaxWidth {
		if cut, ok := cutApart(shown, marks); ok {
			shown = cut
			if note != "" {
				note += "; "
			}
			note += "names longer than the column cut in the middle (...)"
		}
	}
	cells = make([]string, len(shown))
	for i := range shown {
		cells[i] = shown[i] + marks[i]
	}
	return cells, max(fleetHostMinWidth, widestCell(shown, marks)), note
}

// widestCell is the widest of the names with their marks, in columns,
// escaped.
func widestCell(names, marks []string) int {
	w := 0
	for i, n := range names {
		w = max(w, termWidth(n)+termWidth(marks[i]))
	}
	return w
}

// termWidth is the columns s takes escaped.
func termWidth(s string) int { return displayWidth(TermSafe(s)) }

// commonEnding is the longest ending, from a dot on, that every name has
// and none is made of alone ("" for one name: nothing to tell apart).
func commonEnding(names []string) string {
	if len(names) < 2 {
		return ""
	}
	end := names[0]
	for _, n := range names[1:] {
		for !strings.HasSuffix(n, end) {
			end = end[1:]
		}
	}
	for end != "" && (end[0] != '.' || slices.Contains(names, end)) {
		i := strings.IndexByte(end[1:], '.')
		if i < 0 {
			return ""
		}
		end = end[i+1:]
	}
	return end
}

// cutApart cuts the middle out of each name too wide for the column,
// keeping its start and as much of its end as keeps all the names
// distinct; false when no split does.
func cutApart(names, marks []string) ([]string, bool) {
	room := fleetHostMaxWidth
	// The end kept: half the room first, then more of the end (hosts
	// numbered at the end of their first label), then less.
	var tails []int
	for k := (room - 3) / 2; k <= room-4; k++ {
		tails = append(tails, k)
	}
	for k := (room-3)/2 - 1; k >= 1; k-- {
		tails = append(tails, k)
	}
	for _, tail := range tails {
		out := make([]string, len(names))
		seen := map[string]bool{}
		ok := true
		for i, n := range names {
			out[i] = cutMiddle(n, room-termWidth(marks[i]), tail)
			if seen[out[i]] {
				ok = false
				break
			}
			seen[out[i]] = true
		}
		if ok {
			return out, true
		}
	}
	return nil, false
}

// cutMiddle cuts s to width columns (escaped) by replacing its middle
// with "...", keeping up to tail columns of its end; a cut falls between
// characters, never inside one or inside the escape of one.
func cutMiddle(s string, width, tail int) string {
	if termWidth(s) <= width {
		return s
	}
	var units []string // s's characters, or bytes that are none
	var widths []int
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		units, widths = append(units, s[i:i+size]), append(widths, termWidth(s[i:i+size]))
		i += size
	}
	tail = min(tail, width-4)
	end, n := len(units), 0
	for end > 0 && n+widths[end-1] <= tail {
		n += widths[end-1]
		end--
	}
	head, m := 0, 0
	for head < end && m+widths[head] <= width-3-n {
		m += widths[head]
		head++
	}
	return strings.Join(units[:head], "") + "..." + strings.Join(units[end:], "")
}
