package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

// The HTML page is one file that opens anywhere without a network: CSS and
// SVG inline, no script. Everything a recording holds (command, host
// names, comms, paths, the findings' words) reaches it through
// html/template, which escapes each value for where it lands.

//go:embed html.tmpl
var htmlTemplateText string

// htmlTemplate is the recording's page and compare's pages, parsed when a
// page is first written: parsed at init, they cost every spawntrace
// command ~1-3 ms before it did anything (GODEBUG=inittrace=1).
var htmlTemplate = sync.OnceValue(func() *template.Template {
	t := template.Must(template.New("page").Funcs(template.FuncMap{
		"n":    func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"add":  func(a, b float64) float64 { return a + b },
		"half": func(a, b float64) float64 { return (a + b) / 2 },
		"inc":  func(i int) int { return i + 1 },
		"geo":  func() chartGeometry { return htmlGeometry },
	}).Parse(htmlTemplateText))
	template.Must(t.New("compare-pages").Parse(htmlCompareText))
	return t
})

// HTMLHeading is what the page says above the charts: a title ("" for
// the recorded command) and lines about the run (bench's parameters).
type HTMLHeading struct {
	Title string
	Lines []string
}

// htmlSlowest is how many of the slowest spawns the page lists.
const htmlSlowest = 10

// htmlPage is everything the template shows, in words and geometry.
type htmlPage struct {
	Title      string
	Lines      []string
	Host       string
	Lost       string
	Spawns     string
	Classes    *barChart
	Split      *splitChart
	Scatter    *scatterChart
	NoScatter  string // why there is no scatter
	Mechanisms []htmlMechRow
	Unmeasured []string
	Approx     string
	Findings   []htmlFinding
	NoFindings string
	Notes      []string
	Slowest    []htmlSpawnRow
}

type htmlMechRow struct {
	Label, Name, N, P50, P90, P99, Max string
}

type htmlFinding struct {
	Title, ID, Saving, Evidence, Advice, Basis string
}

type htmlSpawnRow struct {
	Syscall, Mechanism, Ms, CopyMs, Pids, Comm, Failed, Exe string
}

// WriteHTML writes a recording's summary as one self-contained HTML page:
// each class's spawn cost (p50 and p90 bars), where a spawn's time goes,
// the copy time against parent RSS with its fit and prediction, the
// mechanisms' costs, the findings and the slowest spawns.
func WriteHTML(w io.Writer, rec *recording.Recording, s summary.Summary, head HTMLHeading) error {
	p, err := newHTMLPage(rec, &s, head)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := htmlTemplate().Execute(&b, p); err != nil {
		return fmt.Errorf("rendering the HTML page: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

func newHTMLPage(rec *recording.Recording, s *summary.Summary, head HTMLHeading) (*htmlPage, error) {
	p := &htmlPage{Title: TermSafe(head.Title)}
	for _, l := range head.Lines {
		p.Lines = append(p.Lines, TermSafe(l))
	}
	if len(head.Lines) == 0 { // a heading's lines name the host already
		p.Host = hostLine(rec.Host)
	}
	if p.Title == "" {
		p.Title = "spawntrace " + commandText(rec)
	}
	var lost bytes.Buffer
	if err := WriteLostWarning(&lost, rec.Lost); err != nil {
		return nil, err
	}
	p.Lost = strings.TrimSpace(lost.String())
	var spawns bytes.Buffer
	if err := WriteSpawnSection(&spawns, *s, 0); err != nil {
		return nil, err
	}
	p.Spawns = strings.TrimSpace(spawns.String())

	copyOK, copyWhy := probeState(rec, tracer.CopyProbe)
	blockedOK, blockedWhy := probeState(rec, tracer.BlockedProbe)
	if !copyOK {
		p.Unmeasured = append(p.Unmeasured, "Address-space copy: not measured ("+copyWhy+")")
	}
	if !blockedOK {
		p.Unmeasured = append(p.Unmeasured, "Blocked time: not measured ("+blockedWhy+")")
	}
	approx := false
	for _, m := range s.Stats {
		label := fmt.Sprintf("%s x%d", m.Mechanism, m.Count)
		for _, r := range mechanismRows(m, copyOK, blockedOK) {
			p.Mechanisms = append(p.Mechanisms, htmlMechRow{label, r.name, fmt.Sprint(r.d.N),
				msCell(r.d.P50Ns, r.d.N), msCell(r.d.P90Ns, r.d.N), msCell(r.d.P99Ns, r.d.N), msCell(r.d.MaxNs, r.d.N)})
			label = ""
			approx = approx || r.d.Approx
		}
	}
	for i := range s.Classes {
		approx = approx || s.Classes[i].Approx()
	}
	if approx {
		var b bytes.Buffer
		tw := newTermWriter(&b)
		writeApproxNote(tw, "percentiles")
		if err := tw.Flush(); err != nil {
			return nil, err
		}
		p.Approx = strings.Join(strings.Fields(b.String()), " ")
	}

	p.Classes = newClassBars(s.Classes)
	p.Split = newSplitChart(s.Classes)
	var err error
	switch {
	case !copyOK:
		p.NoScatter = "The copy was not measured here (above): nothing to plot."
	case s.Fit == nil:
		p.NoScatter = "No fork-like spawns with a measured copy and parent size: nothing to plot."
	default:
		if p.Scatter, err = newScatterChart(s); err != nil {
			return nil, err
		}
	}

	for i := range s.Findings {
		f := &s.Findings[i]
		t := wordFinding(f, s.WallNs)
		// As the text report shows them (wrap): a recording's values in
		// them with their controls escaped.
		p.Findings = append(p.Findings, htmlFinding{TermSafe(t.title), string(f.ID), savingText(f),
			TermSafe(t.evidence), TermSafe(t.advice), basisText(f)})
	}
	if len(s.Findings) == 0 && s.SpawnCount() > 0 {
		p.NoFindings = "Findings: " + noFindingsText()
	}
	for i := range s.Notes {
		p.Notes = append(p.Notes, TermSafe(noteText(&s.Notes[i], s.WallNs)))
	}

	top, err := slowestSpawns(s, htmlSlowest)
	if err != nil {
		return nil, err
	}
	for _, sp := range top {
		exe := TermSafe(sp.Exe)
		switch {
		case !sp.ExecOK:
			exe = "(no exec)"
		case exe == "":
			exe = "(exec'd, name not recorded)"
		}
		p.Slowest = append(p.Slowest, htmlSpawnRow{sp.Syscall, string(sp.Mechanism), fmt.Sprintf("%.3f", float64(sp.CloneDurNs)/1e6),
			copyMs(sp), fmt.Sprintf("%d -> %d", sp.ParentPid, sp.ChildPid), TermSafe(sp.Comm), fmt.Sprint(sp.FailedExecs), exe})
	}
	return p, nil
}

// commandText is the recorded command, or the pid attached to.
func commandText(rec *recording.Recording) string {
	if len(rec.Command) > 0 {
		args := make([]string, len(rec.Command))
		for i, a := range rec.Command {
			args[i] = TermSafe(a)
		}
		return "-- " + strings.Join(args, " ")
	}
	if rec.AttachPid != 0 {
		return fmt.Sprintf("-p %d", rec.AttachPid)
	}
	return "report"
}

// hostLine is the host in one line, as far as it was recorded.
func hostLine(h recording.Host) string {
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, TermSafe(s))
		}
	}
	add(h.Hostname)
	if h.KernelRelease != "" {
		add("Linux " + h.KernelRelease + " " + h.Machine)
	}
	add(h.Distro)
	if h.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d CPUs", h.CPUs))
	}
	if h.MemBytes > 0 {
		parts = append(parts, fmt.Sprintf("%.0f GiB", float64(h.MemBytes)/(1<<30)))
	}
	add(h.CPUModel)
	if h.Virtualization != "" {
		add("virtualization: " + h.Virtualization)
	}
	if h.THPMode != "" {
		add("THP " + h.THPMode)
	}
	return strings.Join(parts, ", ")
}
