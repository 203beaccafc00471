package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

// WriteAnatomy writes what each spawn mechanism cost, the copy-time fit
// against parent RSS, and the findings, ranked.
func WriteAnatomy(w io.Writer, rec *recording.Recording, s summary.Summary) error {
	bw := newTermWriter(w)
	copyOK, copyWhy := probeState(rec, tracer.CopyProbe)
	blockedOK, blockedWhy := probeState(rec, tracer.BlockedProbe)
	if len(s.Stats) > 0 {
		bw.printf("\nSpawn cost by mechanism (ms)%22s %6s %9s %9s %9s %9s\n", "", "n", "p50", "p90", "p99", "max")
		approx := false
		for _, m := range s.Stats {
			label := fmt.Sprintf("%s x%d", m.Mechanism, m.Count)
			for _, r := range mechanismRows(m, copyOK, blockedOK) {
				bw.printf("  %-14s %-33s %6d %9s %9s %9s %9s\n", label, r.name, r.d.N,
					msCell(r.d.P50Ns, r.d.N), msCell(r.d.P90Ns, r.d.N), msCell(r.d.P99Ns, r.d.N), msCell(r.d.MaxNs, r.d.N))
				label = ""
				approx = approx || r.d.Approx
			}
		}
		if approx {
			writeApproxNote(bw, "p50, p90 and p99")
		}
	}
	if !copyOK {
		bw.printf("Address-space copy: not measured (%s)\n", copyWhy)
	} else if f := s.Fit; f != nil {
		bw.printf("\n%s:\n", fitHeading(f))
		bw.printf("  %s\n", fitLineText(f))
		if p := predictionText(f, predictRSSBytes(f)); p != "" {
			bw.printf("  %s\n", p)
		}
	}
	if !blockedOK {
		bw.printf("Blocked time: not measured (%s)\n", blockedWhy)
	}
	writeFindings(bw, &s)
	return bw.Flush()
}

// mechanismRow is one cost of one mechanism, as the anatomy lists them.
type mechanismRow struct {
	name string
	d    summary.Dist
}

// mechanismRows are the costs of m that were measured: the copy and its
// teardown only where a mechanism has them and the copy probe ran, the
// time off CPU where the blocked probe ran.
func mechanismRows(m summary.MechanismStats, copyOK, blockedOK bool) []mechanismRow {
	rows := []mechanismRow{{"spawning call (wall, in parent)", m.Clone}}
	if m.Mechanism != spawn.MechVfork && copyOK {
		rows = append(rows, mechanismRow{"address-space copy (dup_mmap)", m.Copy})
	}
	if m.Mechanism == spawn.MechFork && copyOK {
		rows = append(rows, mechanismRow{"exec teardown of the copy", m.Teardown})
	}
	rows = append(rows, mechanismRow{"spawn to successful exec", m.SpawnToExec})
	if blockedOK {
		rows = append(rows, mechanismRow{"spawning thread off CPU", m.Blocked})
	}
	return rows
}

// predictRSSBytes is the parent size the fit predicts a copy for: 4 GiB,
// or, past parents of 2 GiB, twice the largest one's power of two.
func predictRSSBytes(f *summary.Fit) uint64 {
	b := uint64(4 << 30)
	for b < 2*f.MaxRSSBytes && b < 1<<50 {
		b <<= 1
	}
	return b
}

func fitHeading(f *summary.Fit) string {
	return fmt.Sprintf("Copy time against parent RSS (fork-like spawns, n=%d, RSS %s to %s)",
		f.N, sizeText(f.MinRSSBytes), sizeText(f.MaxRSSBytes))
}

// fitLineText words the fitted line when its slope means something
// (Fit.Usable); else what was measured, the copy per fork at the parents'
// size, and why there is no per-GiB fit.
func fitLineText(f *summary.Fit) string {
	if ok, why := f.Usable(); !ok {
		return fmt.Sprintf("copy %s per fork at %s (mean of %d forks); no per-GiB fit: %s", durText(f.MeanCopyMs*1e6),
			sizeText(f.MeanRSSBytes), f.N, why)
	}
	return fmt.Sprintf("%.2f ms per GiB %+.3f ms, R² %.3f; against page tables: %.3f ms per MiB, R² %.3f",
		f.SlopeMsPerGiB, f.InterceptMs, f.R2, f.SlopeMsPerPgtableMiB, f.R2Pgtables)
}

// predictionText words the copy the fit predicts for a parent of rssBytes;
// "" when the fit supports none (fitLineText says why).
func predictionText(f *summary.Fit, rssBytes uint64) string {
	if ok, _ := f.Usable(); !ok {
		return ""
	}
	return fmt.Sprintf("a fork from a %s parent would copy for ~%.0f ms here (timed by the parent's mmap write lock)",
		wholeSizeText(rssBytes), f.PredictMs(rssBytes))
}

// wholeSizeText is "4 GiB" for a whole number of GiB, else sizeText.
func wholeSizeText(b uint64) string {
	if b >= 1<<30 && b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return sizeText(b)
}

// writeApproxNote says that some percentiles are approximate
// (summary.Dist.Approx), how closely, and why.
func writeApproxNote(w *termWriter, what string) {
	wrap(w, "  ", fmt.Sprintf("%s are approximate here, within %.1f%%: a distribution of more than %d values "+
		"(or one of the largest, when many hold more than %d between them) is kept as a histogram; n and max are exact.",
		what, 100*summary.DistRelErr, summary.DistExactMax, summary.DistExactPool))
}

func probeState(rec *recording.Recording, name string) (bool, string) {
	for _, p := range rec.Probes {
		if p.Name == name {
			return p.Available, p.Reason
		}
	}
	return false, "probe " + name + " not recorded"
}

func msCell(ns uint64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(ns)/1e6)
}

func sizeText(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	default:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
}

// wrap writes text in lines of at most lineWidth, the first and the rest
// indented as prefix is wide.
//
// text is prose with values of the recording in it: their line breaks,
// tabs and other controls are escaped (TermSafe) rather than taken as
// spaces, so that none starts a line of its choosing.
func wrap(w *termWriter, prefix, text string) {
	prefix = TermSafe(prefix) // it may name a recording
	// Widths in runes, not bytes: "µs" or a name in another script is one
	// column a rune on a terminal (East Asian wide runes, two, are not
	// told apart).
	cols := utf8.RuneCountInString
	indent := strings.Repeat(" ", cols(prefix))
	line := prefix
	for _, word := range strings.Split(TermSafe(text), " ") {
		if word == "" {
			continue
		}
		if cols(line)+1+cols(word) > lineWidth && strings.TrimSpace(line) != strings.TrimSpace(prefix) {
			fmt.Fprintln(w, line)
			line = indent
		}
		if line != prefix && line != indent {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}
