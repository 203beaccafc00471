package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// PatternText is the normalized text of a spawn pattern:
// "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) -> clone(SIGCHLD) ->
// execve ENOENT x13 -> execve".
func PatternText(p *compare.Pattern) string {
	var parts []string
	for _, s := range p.Steps {
		var t string
		switch s.Nr {
		case sysno.Socketpair:
			t = fmt.Sprintf("socketpair(%s, %s)", addrFamily(s.Domain), sockType(s.Flags))
		case sysno.Pipe2:
			t = "pipe2(" + pipe2Flags(s.Flags) + ")"
		case sysno.Clone:
			t = "clone(" + CloneFlags(s.Flags) + ")"
		case sysno.Clone3:
			t = "clone3(" + Clone3Flags(s.Flags) + ")"
		case sysno.Fork, sysno.Vfork:
			t = s.Syscall + "()"
		default:
			t = s.Syscall
			if s.Errno != 0 {
				t += " " + errnoName(s.Errno)
			}
		}
		if s.Count > 1 {
			t += fmt.Sprintf(" x%d", s.Count)
		}
		parts = append(parts, t)
	}
	if p.NoExec {
		parts = append(parts, "(no exec)")
	}
	return strings.Join(parts, " -> ")
}

// errnoName is "ENOENT", or "errno N" for a value without a name.
func errnoName(e int) string {
	if info, ok := errnos[e]; ok {
		return info.name
	}
	return fmt.Sprintf("errno %d", e)
}

// Notes printed under the patterns and the syscall table.
const (
	patternNote = "only clone, clone3, fork, vfork, execve, execveat, socketpair and pipe2 are traced per call; " +
		"pointer flags (CLONE_CHILD_SETTID, ...) are left out"
	recvfromNote = "recvfrom is not traced: Rust's fork fallback reads the child's exec status from the socketpair " +
		"(before Rust 1.64, with read from a pipe2) " +
		"after the fork; that call is not shown"
	syscallNote = "wall time per call, as strace -c -w: wait4 includes waiting for children, and a vfork parent's " +
		"clone3/vfork includes the child's run until it execs"
	estimatedNote = "~: estimated: past a syscall's first calls on a CPU, a random 1 in 8 was timed; " +
		"calls are exact, and a difference in time of a few percent between estimates is within their error"
	breakdownNote = "means over all spawns, from the spawning call's entry to the end of the child's successful exec; " +
		"the parts add up to the total, and their shares to 100%"
)

// WriteCompare writes a comparison as text that fits in 100 columns.
func WriteCompare(w io.Writer, c *compare.Comparison) error {
	bw := newTermWriter(w)
	a, b := &c.A, &c.B
	wrap(bw, "", "Comparing A = "+a.Name+" with B = "+b.Name)
	for i := range c.Notes {
		wrap(bw, "note: ", CompareNoteText(c, &c.Notes[i]))
	}

	bw.printf("\nHost facts (* differs)\n")
	cols := func(label, va, vb, mark string) {
		line := fmt.Sprintf("  %s %s %s %s", cellLeft(label, 23), cellLeft(va, 34), cellLeft(vb, 34), mark)
		bw.line(strings.TrimRight(line, " "))
	}
	cols("", a.Name, b.Name, "")
	for _, r := range c.Host {
		mark := ""
		if r.Differs {
			mark = "*"
		}
		cols(r.Fact, hostValue(r, r.A), hostValue(r, r.B), mark)
	}

	bw.printf("\nSpawns\n")
	cols("", a.Name, b.Name, "")
	for _, r := range sideRows(c) {
		cols(r[0], r[1], r[2], "")
	}

	if a.Spawns > 0 || b.Spawns > 0 {
		bw.printf("\nTypical spawn (normalized; counts per spawn)\n")
		socket := false
		for _, s := range []*compare.Side{a, b} {
			if len(s.Patterns) == 0 {
				bw.printf("  %s: no spawns\n", s.Name)
				continue
			}
			for i := range s.Patterns {
				p := &s.Patterns[i]
				socket = socket || p.HasSocketpair()
				bw.printf("  %s, %d of %d spawns (%.0f%%):\n", s.Name, p.Spawns, s.Spawns, p.Share)
				wrap(bw, "      ", PatternText(p))
			}
		}
		if socket {
			wrap(bw, "  ", recvfromNote)
		}
		wrap(bw, "  ", "("+patternNote+")")
	}

	if len(c.Syscalls) > 0 {
		per := "spawn"
		if !c.PerSpawn {
			per = "run"
		}
		bw.printf("\nSyscalls, sorted by the time per %s they add to B\n", per)
		bw.printf("  %-18s %9s %9s %11s %11s %7s %13s\n", "syscall", "calls A", "calls B", "µs/call A", "µs/call B",
			"B/A", "B-A per "+per)
		const maxRows = 15
		for i, r := range c.Syscalls {
			if i == maxRows {
				bw.printf("  ... %d more, each under %s\n", len(c.Syscalls)-maxRows, durText(math.Abs(r.DiffNs)))
				break
			}
			bw.printf("  %s %9s %9s %11s %11s %7s %13s\n", cellLeft(r.Name, 18), callsCell(r.CallsA, c.PerSpawn),
				callsCell(r.CallsB, c.PerSpawn), estCell(usCell(r.UsPerCallA), r.EstimatedA), estCell(usCell(r.UsPerCallB), r.EstimatedB), ratioCell(r.Ratio),
				signedDur(r.DiffNs))
		}
		wrap(bw, "  ", "("+syscallNote+")")
		if anyEstimated(c.Syscalls) {
			wrap(bw, "  ", "("+estimatedNote+")")
		}
	}

	if len(c.Breakdown) > 0 {
		bw.printf("\nCost of one spawn\n")
		bw.printf("  %-28s %s %s %14s %8s\n", "part", cellRight(a.Name, 14), cellRight(b.Name, 14), "B-A", "share")
		for _, r := range c.Breakdown {
			name := r.Part
			if !r.Measured {
				name += " (unmeasured)"
			}
			bw.printf("  %s %14s %14s %14s %8s\n", cellLeft(name, 28), durText(r.ANs),
				durText(r.BNs), signedDur(r.DiffNs), shareCell(c, r.Share))
		}
		total := 0.0
		for _, r := range c.Breakdown {
			total += r.Share
		}
		bw.printf("  %-28s %14s %14s %14s %8s\n", "total", durText(a.MeanNs), durText(b.MeanNs),
			signedDur(c.DiffNs), shareCell(c, total))
		wrap(bw, "  ", "("+breakdownNote+")")
	}

	bw.printf("\nCopy time against parent RSS (fork-like spawns)\n")
	for _, s := range []*compare.Side{a, b} {
		wrap(bw, "  "+s.Name+": ", fitText(s))
	}

	if len(c.Findings) > 0 {
		bw.printf("\nFindings (ranked by the part of the difference they explain)\n")
		for i := range c.Findings {
			f := &c.Findings[i]
			title, evidence := FindingText(c, f)
			wrap(bw, fmt.Sprintf("%2d. ", i+1), title+" ["+findingTag(c, f)+"]")
			wrap(bw, "    ", evidence)
		}
	} else {
		bw.printf("\nFindings: none\n")
	}
	return bw.Flush()
}

// sideRows are the spawn facts of each side: label, A, B.
func sideRows(c *compare.Comparison) [][3]string {
	row := func(label string, f func(s *compare.Side) string) [3]string {
		return [3]string{label, f(&c.A), f(&c.B)}
	}
	withSpawns := func(f func(s *compare.Side) string) func(s *compare.Side) string {
		return func(s *compare.Side) string {
			if s.Spawns == 0 {
				return "-"
			}
			return f(s)
		}
	}
	return [][3]string{
		row("command", func(s *compare.Side) string { return orDash(strings.Join(s.Command, " ")) }),
		row("spawns", func(s *compare.Side) string {
			return fmt.Sprintf("%d in %.3f s", s.Spawns, float64(s.WallNs)/1e9)
		}),
		row("mechanism", withSpawns(func(s *compare.Side) string { return mechCountText(s.ByMech) })),
		row("signature", withSpawns(func(s *compare.Side) string { return orDash(strings.Join(s.Signatures, ", ")) })),
		row("parent RSS (median)", withSpawns(func(s *compare.Side) string { return sizeOrDash(s.ParentRSSBytes) })),
		row("failed execs per spawn", withSpawns(func(s *compare.Side) string { return fmt.Sprintf("%.1f", s.FailedPerSpawn) })),
		row("successful exec on CPU", withSpawns(func(s *compare.Side) string {
			if s.ExecSpawns == 0 {
				return "-"
			}
			return durText(s.ExecNs) + " (teardown excluded)"
		})),
		row("syscalls per spawn", withSpawns(func(s *compare.Side) string { return fmt.Sprintf("%.1f", s.SyscallsPerSpawn) })),
		row("lost", func(s *compare.Side) string { return lostText(s.Lost) }),
	}
}

func fitText(s *compare.Side) string {
	f := s.Fit
	if f == nil {
		if !s.CopyMeasured {
			return "copy not measured"
		}
		return "no fit: fewer than 2 fork-like spawns with a measured copy"
	}
	if ok, _ := f.Usable(); !ok {
		t := fitLineText(f)
		if float64(f.MaxRSSBytes) >= summary.MinFitSpread*float64(f.MinRSSBytes) {
			t += fmt.Sprintf("; RSS %s to %s", sizeText(f.MinRSSBytes), sizeText(f.MaxRSSBytes))
		}
		return t
	}
	return fmt.Sprintf("%.2f ms per GiB %+.3f ms, R² %.3f; n=%d, RSS %s to %s", f.SlopeMsPerGiB, f.InterceptMs, f.R2,
		f.N, sizeText(f.MinRSSBytes), sizeText(f.MaxRSSBytes))
}

func findingTag(c *compare.Comparison, f *compare.CompareFinding) string {
	if f.CostNs == 0 {
		return f.ID
	}
	tag := fmt.Sprintf("%s, %s per spawn", f.ID, signedDur(f.CostNs))
	if math.Round(f.Share) != 0 { // not "-0%"
		tag += fmt.Sprintf(", %.0f%%", f.Share)
	}
	return tag
}

func signedDur(ns float64) string {
	if ns >= 0 {
		return "+" + durText(ns)
	}
	return durText(ns)
}

func shareCell(c *compare.Comparison, share float64) string {
	if c.DiffNs == 0 || (share == 0 && !explained(c)) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", share)
}

// explained says whether the comparison gave shares (a difference big
// enough to split).
func explained(c *compare.Comparison) bool {
	for _, r := range c.Breakdown {
		if r.Share != 0 {
			return true
		}
	}
	return false
}

func callsCell(v float64, perSpawn bool) string {
	if !perSpawn {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// estCell marks a time cell estimated from a sample of the calls.
func estCell(cell string, estimated bool) string {
	if estimated && cell != "-" {
		return "~" + cell
	}
	return cell
}

// anyEstimated says whether a row's time on either side is an estimate.
func anyEstimated(rows []compare.SyscallRow) bool {
	for _, r := range rows {
		if r.EstimatedA || r.EstimatedB {
			return true
		}
	}
	return false
}

func usCell(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func ratioCell(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sizeOrDash(b uint64) string {
	if b == 0 {
		return "-"
	}
	return bytesText(b)
}

// bytesText is "1.00 GiB", "24 MiB", "12.5 KiB" or "800 B".
func bytesText(b uint64) string {
	switch {
	case b >= 1<<20:
		return sizeText(b)
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// WriteCompareJSON writes the comparison as one JSON document, with each
// pattern's text beside its steps.
func WriteCompareJSON(w io.Writer, c *compare.Comparison) error {
	type patternJSON struct {
		Text string `json:"text"`
		compare.Pattern
	}
	type sideJSON struct {
		compare.Side
		Patterns []patternJSON `json:"patterns,omitempty"`
	}
	type findingJSON struct {
		Title    string `json:"title"`
		Evidence string `json:"evidence"`
		compare.CompareFinding
	}
	type noteJSON struct {
		Text string `json:"text"`
		compare.Note
	}
	side := func(s *compare.Side) sideJSON {
		out := sideJSON{Side: *s}
		for i := range s.Patterns {
			out.Patterns = append(out.Patterns, patternJSON{Text: PatternText(&s.Patterns[i]), Pattern: s.Patterns[i]})
		}
		return out
	}
	findings := make([]findingJSON, 0, len(c.Findings))
	for i := range c.Findings {
		f := findingJSON{CompareFinding: c.Findings[i]}
		f.Title, f.Evidence = FindingText(c, &c.Findings[i])
		findings = append(findings, f)
	}
	var notes []noteJSON
	for i := range c.Notes {
		notes = append(notes, noteJSON{Text: CompareNoteText(c, &c.Notes[i]), Note: c.Notes[i]})
	}
	doc := struct {
		Format string `json:"format"`
		*compare.Comparison
		A        sideJSON      `json:"a"`
		B        sideJSON      `json:"b"`
		Findings []findingJSON `json:"findings"`
		Notes    []noteJSON    `json:"notes,omitempty"`
	}{Format: "spawntrace-comparison", Comparison: c, A: side(&c.A), B: side(&c.B), Findings: findings, Notes: notes}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(jsonTermSafe(b.Bytes()))
	return err
}

// jsonTermSafe writes each rune of encoded JSON that encoding/json leaves
// as it is but a terminal would act on (C1 controls such as U+009B, bidi
// overrides such as U+202E: not printable, not ASCII) as its \u escape,
// so that the document read on a terminal is as safe as the text and
// decodes to the same strings. Such runes can only be inside strings.
func jsonTermSafe(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			if out != nil {
				out = append(out, b[i])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if unicode.IsPrint(r) {
			if out != nil {
				out = append(out, b[i:i+size]...)
			}
			i += size
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(b)+64), b[:i]...)
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	if out == nil {
		return b
	}
	return out
}

// WriteCompareMarkdown writes the comparison as GitHub-flavoured Markdown.
func WriteCompareMarkdown(w io.Writer, c *compare.Comparison) error {
	bw := newTermWriter(w)
	a, b := &c.A, &c.B
	bw.printf("# spawntrace compare: %s (A) and %s (B)\n\n", md(a.Name), md(b.Name))
	for i := range c.Notes {
		bw.printf("> **Note:** %s\n\n", md(CompareNoteText(c, &c.Notes[i])))
	}
	if len(c.Findings) > 0 {
		bw.printf("## Findings\n\n")
		for i := range c.Findings {
			f := &c.Findings[i]
			title, evidence := FindingText(c, f)
			bw.printf("%d. **%s** (%s): %s\n", i+1, md(title), md(findingTag(c, f)), md(evidence))
		}
		bw.WriteString("\n")
	}
	bw.printf("## Host facts\n\n| fact | %s | %s | differs |\n|---|---|---|---|\n", md(a.Name), md(b.Name))
	for _, r := range c.Host {
		mark := ""
		if r.Differs {
			mark = "**yes**"
		}
		bw.printf("| %s | %s | %s | %s |\n", md(r.Fact), md(hostValue(r, r.A)), md(hostValue(r, r.B)), mark)
	}
	bw.printf("\n## Spawns\n\n| | %s | %s |\n|---|---|---|\n", md(a.Name), md(b.Name))
	for _, r := range sideRows(c) {
		bw.printf("| %s | %s | %s |\n", md(r[0]), md(r[1]), md(r[2]))
	}
	if a.Spawns > 0 || b.Spawns > 0 {
		bw.printf("\n## Typical spawn\n\n")
		socket := false
		for _, s := range []*compare.Side{a, b} {
			for i := range s.Patterns {
				p := &s.Patterns[i]
				socket = socket || p.HasSocketpair()
				bw.printf("- %s, %d of %d spawns (%.0f%%): `%s`\n", md(s.Name), p.Spawns, s.Spawns, p.Share, PatternText(p))
			}
		}
		if socket {
			bw.printf("\n%s.\n", recvfromNote)
		}
		bw.printf("\n_%s._\n", patternNote)
	}
	if len(c.Syscalls) > 0 {
		per := "spawn"
		if !c.PerSpawn {
			per = "run"
		}
		bw.printf("\n## Syscalls per %s\n\n| syscall | calls A | calls B | µs/call A | µs/call B | B/A | B-A per %s |\n"+
			"|---|--:|--:|--:|--:|--:|--:|\n", per, per)
		for _, r := range c.Syscalls {
			bw.printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.Name, callsCell(r.CallsA, c.PerSpawn),
				callsCell(r.CallsB, c.PerSpawn), estCell(usCell(r.UsPerCallA), r.EstimatedA), estCell(usCell(r.UsPerCallB), r.EstimatedB), ratioCell(r.Ratio), signedDur(r.DiffNs))
		}
		bw.printf("\n_%s._\n", syscallNote)
		if anyEstimated(c.Syscalls) {
			bw.printf("\n_%s._\n", estimatedNote)
		}
	}
	if len(c.Breakdown) > 0 {
		bw.printf("\n## Cost of one spawn\n\n| part | %s | %s | B-A | share |\n|---|--:|--:|--:|--:|\n", md(a.Name), md(b.Name))
		total := 0.0
		for _, r := range c.Breakdown {
			name := r.Part
			if !r.Measured {
				name += " (unmeasured)"
			}
			total += r.Share
			bw.printf("| %s | %s | %s | %s | %s |\n", name, durText(r.ANs), durText(r.BNs),
				signedDur(r.DiffNs), shareCell(c, r.Share))
		}
		bw.printf("| **total** | %s | %s | %s | %s |\n", durText(a.MeanNs), durText(b.MeanNs),
			signedDur(c.DiffNs), shareCell(c, total))
		bw.printf("\n_%s._\n", breakdownNote)
	}
	bw.printf("\n## Copy time against parent RSS\n\n")
	for _, s := range []*compare.Side{a, b} {
		bw.printf("- %s: %s\n", md(s.Name), md(fitText(s)))
	}
	return bw.Flush()
}

// mdCode is s (a recording's, a command line say) as a Markdown code span:
// fenced by one backtick more than the longest run of them in s, so that
// none in s ends it, and nothing in it is taken as markup or HTML. Its
// controls are escaped (TermSafe): a newline would end the span.
func mdCode(s string) string {
	s = TermSafe(s)
	longest, run := 0, 0
	for _, c := range s {
		if c != '`' {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// md escapes the characters that would start Markdown markup or break a
// table cell.
func md(s string) string {
	r := strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;")
	return r.Replace(s)
}
