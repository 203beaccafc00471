package reports

import (
	"bytes"
	"encoding/xml"
	"html/template"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

func writtenHTML(t *testing.T, rec *recording.Recording, head HTMLHeading) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, rec, summarized(rec), head); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// svgNode is an element of an SVG part, parsed back with encoding/xml.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []svgNode  `xml:",any"`
}

func (n *svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *svgNode) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		t.Fatalf("<%s %s=%q>: not a finite number", n.XMLName.Local, name, n.attr(name))
	}
	return v
}

// all lists the elements under n (n included) named name, with class
// class when it is not "".
func (n *svgNode) all(name, class string) []*svgNode {
	var out []*svgNode
	var walk func(m *svgNode)
	walk = func(m *svgNode) {
		if m.XMLName.Local == name && (class == "" || firstField(m.attr("class")) == class) {
			out = append(out, m)
		}
		for i := range m.Nodes {
			walk(&m.Nodes[i])
		}
	}
	walk(n)
	return out
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

var svgRe = regexp.MustCompile(`(?s)<svg .*?</svg>`)

// svgParts parses each inline SVG of a page as XML: it must be well formed
// (an unescaped value would break it), and is returned by its <title>.
func svgParts(t *testing.T, page []byte) map[string]*svgNode {
	t.Helper()
	parts := map[string]*svgNode{}
	for _, raw := range svgRe.FindAll(page, -1) {
		var n svgNode
		// HTML's named entities are XML's, but for the ones html/template
		// writes for quotes.
		if err := xml.Unmarshal(raw, &n); err != nil {
			t.Fatalf("an SVG part is not well-formed XML: %v\n%s", err, raw)
		}
		titles := n.all("title", "")
		if len(titles) == 0 {
			t.Fatalf("an SVG part has no <title>:\n%s", raw)
		}
		parts[titles[0].Text] = &n
	}
	return parts
}

const (
	classesTitle = "Spawn cost per class: p50 and p90 (ms)"
	splitTitle   = "Where a spawn's time goes (mean ms per spawn)"
	scatterTitle = "Copy time against parent RSS"
)

func TestHTMLGolden(t *testing.T) {
	rec := anatomyRecording()
	golden(t, "page.html.golden", writtenHTML(t, rec, HTMLHeading{}))
}

// TestHTMLCharts reads the charts back as a person would: bars as long as
// the class table's medians, points on the fitted line, the prediction
// where the text report puts it, and the findings in the text report's
// words.
func TestHTMLCharts(t *testing.T) {
	rec := anatomyRecording()
	sum := summarized(rec)
	page := writtenHTML(t, rec, HTMLHeading{})
	parts := svgParts(t, page)
	for _, title := range []string{classesTitle, splitTitle, scatterTitle} {
		if parts[title] == nil {
			t.Fatalf("no chart titled %q", title)
		}
	}

	// Bars: one p50 and one p90 bar a class, p50 no longer than p90, and
	// widths in the ratio of the classes' loop times.
	bars := parts[classesTitle]
	var p50s []float64
	for _, r := range bars.all("rect", "") {
		if strings.HasSuffix(r.attr("class"), " p90") {
			continue
		}
		p50s = append(p50s, r.num(t, "width"))
	}
	if len(p50s) != len(sum.Classes) {
		t.Fatalf("%d p50 bars, want one for each of %d classes", len(p50s), len(sum.Classes))
	}
	for i := 1; i < len(p50s); i++ {
		want := float64(sum.Classes[i].Total.P50Ns) / float64(sum.Classes[0].Total.P50Ns)
		if got := p50s[i] / p50s[0]; math.Abs(got-want) > 0.01*want {
			t.Errorf("class %d's bar is %.3f times class 0's, its median %.3f times", i, got, want)
		}
	}

	// Split: the parts of the vfork class's spawns are its failed execs
	// (they happened while the parent waited); the 1 GiB fork class's
	// copy segment is as wide as its mean copy.
	split := parts[splitTitle]
	if n := len(split.all("rect", "s-failed")); n != 2 { // the legend's and the vfork class's
		t.Errorf("%d failed-exec rects, want the legend's and one bar's", n)
	}
	if n := len(split.all("rect", "s-teardown")); n != 3 {
		t.Errorf("%d teardown rects, want the legend's and the two fork classes'", n)
	}

	// Scatter: every point lies on the fitted line (the fixture's copies
	// are linear in RSS), and the prediction reads ~72 ms on the y axis.
	sc := parts[scatterTitle]
	fit := sc.all("line", "fit")
	ext := sc.all("line", "ext")
	pred := sc.all("circle", "pred")
	if len(fit) != 1 || len(ext) != 1 || len(pred) != 1 {
		t.Fatalf("scatter: %d fit lines, %d extensions, %d predictions; want one each", len(fit), len(ext), len(pred))
	}
	x1, y1, x2, y2 := fit[0].num(t, "x1"), fit[0].num(t, "y1"), fit[0].num(t, "x2"), fit[0].num(t, "y2")
	pts := sc.all("circle", "pt")
	if len(pts) == 0 {
		t.Fatal("scatter: no points")
	}
	for _, p := range pts {
		x, y := p.num(t, "cx"), p.num(t, "cy")
		if onLine := y1 + (y2-y1)*(x-x1)/(x2-x1); math.Abs(y-onLine) > 1.5 {
			t.Errorf("point (%.1f, %.1f) is %.1f units off the fitted line", x, y, y-onLine)
		}
	}
	// The y axis: ticks labelled in ms at their positions.
	var tickMs, tickY []float64
	for _, tx := range sc.all("text", "tick") {
		if tx.attr("text-anchor") != "end" {
			continue
		}
		v, err := strconv.ParseFloat(tx.Text, 64)
		if err != nil {
			continue
		}
		tickMs = append(tickMs, v)
		tickY = append(tickY, tx.num(t, "y")-4)
	}
	if len(tickMs) < 2 {
		t.Fatalf("scatter: %d y ticks", len(tickMs))
	}
	last := len(tickMs) - 1
	readMs := tickMs[0] + (pred[0].num(t, "cy")-tickY[0])*(tickMs[last]-tickMs[0])/(tickY[last]-tickY[0])
	if want := sum.Fit.PredictMs(4 << 30); math.Abs(readMs-want) > 1 {
		t.Errorf("the prediction's circle reads %.1f ms on the y axis, the fit predicts %.1f ms", readMs, want)
	}

	text := string(page)
	for _, want := range []string{template.HTMLEscapeString(predictionText(sum.Fit, 4<<30)), "4 GiB parent: ~72 ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for i := range sum.Findings {
		f := wordFinding(&sum.Findings[i], sum.WallNs)
		for _, want := range []string{f.title, f.evidence, f.advice, basisText(&sum.Findings[i])} {
			if !strings.Contains(text, template.HTMLEscapeString(want)) {
				t.Errorf("page lacks the finding text %q", want)
			}
		}
	}
	// No network and no script: nothing to fetch, nothing to run.
	for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "http:", "https:"} {
		if strings.Contains(strings.ToLower(text), bad) {
			t.Errorf("page holds %q", bad)
		}
	}
}

// hostileRecording is anatomyRecording with markup wherever a recording
// holds a name: the traced program chose them all.
const hostile = "<script>alert(1)</script>"

func hostileRecording() *recording.Recording {
	rec := anatomyRecording()
	rec.Command = []string{"/tmp/" + hostile, `"onload="alert(2)`}
	rec.Host.Hostname = hostile
	rec.Host.Distro = `"><svg onload=alert(3)>`
	for i := range rec.Events {
		ev := &rec.Events[i]
		if ev.Comm == "runner" {
			ev.Comm = hostile
		}
		if strings.HasPrefix(ev.Filename, "/usr/") {
			ev.Filename = "/usr/" + hostile
		}
	}
	return rec
}

var handlerRe = regexp.MustCompile(`(?i)<[a-z][^<>]*\son\w+=`)

func TestHTMLHostile(t *testing.T) {
	page := writtenHTML(t, hostileRecording(), HTMLHeading{})
	text := string(page)
	low := strings.ToLower(text)
	if strings.Contains(low, "<script") {
		t.Error("the recording's <script> reached the page unescaped")
	}
	// An event handler in any tag: text outside tags may say onload=,
	// since its < and > are escaped.
	if m := handlerRe.FindString(text); m != "" {
		t.Errorf("the recording put an event handler into a tag: %q", m)
	}
	escaped := template.HTMLEscapeString(hostile)
	// The comm (slowest spawns), the command (title), the host, the exe
	// (class labels, PATH finding).
	if n := strings.Count(text, escaped); n < 5 {
		t.Errorf("the hostile names show escaped %d times, want at least 5", n)
	}
	if !strings.Contains(text, "<td class=\"l\">"+escaped+"</td>") {
		t.Error("the slowest spawns do not show the comm, escaped")
	}
	svgParts(t, page) // still well-formed
}

func TestHTMLUnmeasured(t *testing.T) {
	rec := anatomyRecording()
	rec.Probes = []tracer.Probe{{Name: tracer.CopyProbe, Reason: "tracepoint mmap_lock:mmap_lock_released not in kernel BTF"}}
	page := writtenHTML(t, rec, HTMLHeading{})
	if parts := svgParts(t, page); parts[scatterTitle] != nil {
		t.Error("a scatter of copies that were not measured")
	}
	for _, want := range []string{"Address-space copy: not measured (tracepoint mmap_lock:mmap_lock_released not in kernel BTF)",
		"Blocked time: not measured"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHTMLNoSpawns(t *testing.T) {
	rec := &recording.Recording{StartMonoNs: 1, EndMonoNs: 2, Command: []string{"true"}}
	page := writtenHTML(t, rec, HTMLHeading{Title: "spawntrace bench on h", Lines: []string{"10 spawns per class"}})
	if parts := svgParts(t, page); len(parts) != 0 {
		t.Errorf("%d charts of no spawns", len(parts))
	}
	for _, want := range []string{"<h1>spawntrace bench on h</h1>", "10 spawns per class", "No spawns recorded."} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLScatterBounded: a million forks of distinct sizes draw at most
// one point per few pixels.
func TestHTMLScatterBounded(t *testing.T) {
	rec := anatomyRecording()
	s := summarized(rec)
	ch, err := newScatterChart(&s)
	if err != nil {
		t.Fatal(err)
	}
	maxPoints := int((scatterRight - scatterLeft + scatterCellPx) * (scatterBottom - scatterTop + scatterCellPx) / (scatterCellPx * scatterCellPx))
	if ch.Drawn > maxPoints || ch.Drawn > ch.Total {
		t.Errorf("%d points drawn of %d, bound %d", ch.Drawn, ch.Total, maxPoints)
	}
	if ch.Total != s.Fit.N {
		t.Errorf("scatter counts %d forks, the fit %d", ch.Total, s.Fit.N)
	}
}

func TestHTMLWriteError(t *testing.T) {
	rec := anatomyRecording()
	if err := WriteHTML(failWriter{}, rec, summarized(rec), HTMLHeading{}); err == nil {
		t.Error("no error writing to a full device")
	}
}

func TestNiceMax(t *testing.T) {
	for _, c := range []struct{ v, top, step float64 }{
		{29.44, 30, 10}, {72.1, 80, 20}, {4, 4, 1}, {0, 1, 0.2}, {0.013, 0.015, 0.005}, {math.NaN(), 1, 0.2},
	} {
		top, step := niceMax(c.v)
		if math.Abs(top-c.top) > 1e-9 || math.Abs(step-c.step) > 1e-9 {
			t.Errorf("niceMax(%v) = %v, %v; want %v, %v", c.v, top, step, c.top, c.step)
		}
	}
}

// checkHTML: a written page's charts are well-formed XML and it holds no
// script.
func checkHTML(t *testing.T, out []byte) {
	t.Helper()
	for _, raw := range svgRe.FindAll(out, -1) {
		if err := xml.Unmarshal(raw, new(svgNode)); err != nil {
			t.Errorf("html: an SVG part is not well-formed XML: %v", err)
			return
		}
	}
	if bytes.Contains(bytes.ToLower(out), []byte("<script")) {
		t.Error("html: the page holds a <script>")
	}
}
