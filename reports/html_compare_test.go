package reports

import (
	"bytes"
	"html/template"
	"math"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/fleet"
	"github.com/spawntrace/spawntrace/analyze/recording"
)

const (
	costsTitle       = "Cost of one spawn on each host"
	diffTitle        = "The difference per spawn, by part (B − A)"
	bothScatterTitle = "Copy time against parent RSS, both hosts"
	fleetBarsTitle   = "Hosts ranked by one spawn's cost: p50 and p90"
)

func compareHTML(t *testing.T, c *compare.Comparison, a, b *recording.Recording) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCompareHTML(&buf, c, a, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func figuresHTML(t *testing.T) []byte {
	a, b := figuresRecordings()
	return compareHTML(t, compared(a, b, "laptop", "cluster"), a, b)
}

// Parents of 256 MiB and 1 GiB, the copy 0.40 ms per GiB: B's fit is
// drawn, its line from the smallest parent to the largest.
func TestCompareHTMLFitLine(t *testing.T) {
	a, b := figuresRecordings()
	for i := range b.Events {
		if ev := &b.Events[i]; ev.Parent != nil && i%4 == 0 {
			ev.Parent.RSSAnonBytes, ev.CopyNs = 256<<20, 100_000
		}
	}
	c := compared(a, b, "laptop", "cluster")
	if ok, why := c.B.Fit.Usable(); !ok {
		t.Fatalf("B's fit %+v not usable: %s", c.B.Fit, why)
	}
	page := compareHTML(t, c, a, b)
	parts := svgParts(t, page)
	sc := parts[bothScatterTitle]
	if n := len(sc.all("line", "fit-b")); n != 1 {
		t.Errorf("scatter: %d fit lines of B, want 1", n)
	}
	for _, w := range []string{"cluster: 0.40 ms per GiB ", "R² 1.000; n=10000, RSS 256 MiB to 1.00 GiB"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestCompareHTMLGolden(t *testing.T) {
	golden(t, "compare.html.golden", figuresHTML(t))
}

// noNetwork: a page fetches nothing and runs nothing.
func noNetwork(t *testing.T, page []byte) {
	t.Helper()
	for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "http:", "https:"} {
		if bytes.Contains(bytes.ToLower(page), []byte(bad)) {
			t.Errorf("page holds %q", bad)
		}
	}
}

// TestCompareHTMLCharts reads the compare page back as a person would:
// each host's bar as long as its mean cost, the difference's widest bar
// the copy's (to the right: costlier on B), and the findings and host
// facts in the text report's words.
func TestCompareHTMLCharts(t *testing.T) {
	a, b := figuresRecordings()
	c := compared(a, b, "laptop", "cluster")
	page := compareHTML(t, c, a, b)
	noNetwork(t, page)
	parts := svgParts(t, page)
	for _, title := range []string{costsTitle, diffTitle, bothScatterTitle} {
		if parts[title] == nil {
			t.Fatalf("no chart titled %q", title)
		}
	}
	// Each row's segments end where its value says: B's is 580/64 of A's.
	var ends []float64
	for _, g := range parts[costsTitle].all("g", "") {
		end := 0.0
		for _, r := range g.all("rect", "") {
			end = math.Max(end, r.num(t, "x")+r.num(t, "width"))
		}
		ends = append(ends, end-barPlotX)
	}
	if len(ends) != 2 {
		t.Fatalf("%d cost bars, want 2", len(ends))
	}
	if got, want := ends[1]/ends[0], c.B.MeanNs/c.A.MeanNs; math.Abs(got-want) > 0.01*want {
		t.Errorf("B's bar is %.3f times A's, its mean cost %.3f times", got, want)
	}
	// The difference: the copy's bar is the widest and right of zero.
	diff := parts[diffTitle]
	zero := diff.all("line", "zero")[0].num(t, "x1")
	var widest *svgNode
	for _, r := range diff.all("rect", "") {
		if widest == nil || r.num(t, "width") > widest.num(t, "width") {
			widest = r
		}
	}
	if widest == nil || widest.attr("class") != "s-copy" || widest.num(t, "x") != zero {
		t.Errorf("the difference's widest bar: %+v, want the copy's, right of zero (x=%v)", widest, zero)
	}
	// The cluster's parents are all 1 GiB: no line (no slope to draw); the
	// laptop vforks.
	sc := parts[bothScatterTitle]
	if n, m := len(sc.all("line", "fit-b")), len(sc.all("line", "fit-a")); n != 0 || m != 0 {
		t.Errorf("scatter: %d fit lines of B, %d of A; want none", n, m)
	}
	if w := "cluster: copy 0.40 ms per fork at 1.00 GiB (mean of 10000 forks); no per-GiB fit: parents all about " +
		"the same size"; !strings.Contains(string(page), w) {
		t.Errorf("page lacks %q", w)
	}
	text := string(page)
	for i := range c.Findings {
		title, ev := FindingText(c, &c.Findings[i])
		for _, want := range []string{title, ev} {
			if !strings.Contains(text, template.HTMLEscapeString(want)) {
				t.Errorf("page lacks the finding text %q", want)
			}
		}
	}
	for _, want := range []string{"<tr class=\"differs\"><td class=\"l\">kernel</td><td class=\"l\">5.15.0-91-generic</td>" +
		"<td class=\"l\">3.10.0-1160.el7.x86_64</td></tr>", "address-space copy: 0.40 ms per spawn"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestCompareHTMLBothFits: two forking hosts whose parents grow; each
// side's points lie on its own fit line.
func TestCompareHTMLBothFits(t *testing.T) {
	_, cl := figuresRecordings()
	grow := func(rec *recording.Recording, nsPerMiB uint64) {
		k := 0
		for i := range rec.Events {
			ev := &rec.Events[i]
			if ev.Parent != nil {
				mib := uint64(128 * (1 + k%8))
				ev.Parent.RSSAnonBytes, ev.CopyNs = mib<<20, mib*nsPerMiB
				k++
			}
		}
	}
	a, b := cl, fixture.Recording(fixture.Spawns{Host: cl.Host, Fork: true, N: 2000, CloneNs: 490_000, CopyNs: 1, S2ENs: 580_000,
		ExecNs: 80_000, RSSBytes: 1, IntervalNs: 580_000})
	grow(a, 200)
	grow(b, 450)
	c := compared(a, b, "slow-copy", "fast-copy")
	page := compareHTML(t, c, a, b)
	sc := svgParts(t, page)[bothScatterTitle]
	if sc == nil {
		t.Fatal("no scatter")
	}
	for _, side := range []string{"a", "b"} {
		fit := sc.all("line", "fit-"+side)
		pts := sc.all("circle", "pt-"+side)
		if len(fit) != 1 || len(pts) < 8 {
			t.Fatalf("side %s: %d fit lines, %d points", side, len(fit), len(pts))
		}
		x1, y1, x2, y2 := fit[0].num(t, "x1"), fit[0].num(t, "y1"), fit[0].num(t, "x2"), fit[0].num(t, "y2")
		for _, p := range pts {
			x, y := p.num(t, "cx"), p.num(t, "cy")
			if onLine := y1 + (y2-y1)*(x-x1)/(x2-x1); math.Abs(y-onLine) > 1.5 {
				t.Errorf("side %s: point (%.1f, %.1f) is %.1f units off its fit", side, x, y, y-onLine)
			}
		}
	}
}

func TestCompareHTMLHostile(t *testing.T) {
	a, b := figuresRecordings()
	b.Host.Hostname, b.Host.KernelRelease = hostile, `"><svg onload=alert(3)>`
	page := compareHTML(t, compared(a, b, "laptop", hostile+"\x1b[2J"), a, b)
	text := string(page)
	if strings.Contains(strings.ToLower(text), "<script") {
		t.Error("the recording's <script> reached the page unescaped")
	}
	if m := handlerRe.FindString(text); m != "" {
		t.Errorf("the recording put an event handler into a tag: %q", m)
	}
	if bytes.ContainsRune(page, 0x1b) {
		t.Error("a raw escape byte in the page")
	}
	if n := strings.Count(text, template.HTMLEscapeString(hostile)); n < 4 {
		t.Errorf("the hostile names show escaped %d times, want at least 4", n)
	}
	svgParts(t, page)
	if err := WriteCompareHTML(failWriter{}, compared(a, b, "a", "b"), a, b); err == nil {
		t.Error("no error writing to a full device")
	}
}

func fleetHTML(t *testing.T, f *fleet.Fleet) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteFleetHTML(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFleetHTMLGolden(t *testing.T) {
	golden(t, "fleet.html.golden", fleetHTML(t, testFleet(t)))
}

// TestFleetHTMLCharts: one bar pair per ranked host, costliest on top, the
// outliers' in their own colour and past the threshold line, the others'
// medians short of it.
func TestFleetHTMLCharts(t *testing.T) {
	f := testFleet(t)
	page := fleetHTML(t, f)
	noNetwork(t, page)
	bars := svgParts(t, page)[fleetBarsTitle]
	if bars == nil {
		t.Fatalf("no chart titled %q", fleetBarsTitle)
	}
	threshold := bars.all("line", "threshold")
	if len(threshold) != 1 {
		t.Fatalf("%d threshold lines", len(threshold))
	}
	tx := threshold[0].num(t, "x1")
	ranked := len(f.Hosts) - len(f.NoSpawns)
	rows := bars.all("g", "")
	if len(rows) != ranked {
		t.Fatalf("%d bar rows, want %d ranked hosts", len(rows), ranked)
	}
	prevY := -1.0
	for i, g := range rows {
		h := &f.Hosts[i]
		var p50 *svgNode
		for _, r := range g.all("rect", "") {
			if !strings.HasSuffix(r.attr("class"), " p90") {
				p50 = r
			}
		}
		end := p50.num(t, "x") + p50.num(t, "width")
		if y := p50.num(t, "y"); y <= prevY {
			t.Errorf("row %d (%s) is not below the one before", i, h.Name)
		} else {
			prevY = y
		}
		if h.Outlier != (p50.attr("class") == "m-fork") || h.Outlier != (end > tx) {
			t.Errorf("%s (outlier %v): bar class %q ends at %.1f, threshold at %.1f", h.Name, h.Outlier, p50.attr("class"), end, tx)
		}
	}
	text := string(page)
	for i := range f.Outliers {
		title, _, ev := outlierCause(&f.Outliers[i])
		for _, want := range []string{title, ev} {
			if !strings.Contains(text, template.HTMLEscapeString(want)) {
				t.Errorf("page lacks the outlier's words %q", want)
			}
		}
	}
	if !strings.Contains(text, "No spawns recorded on node8") {
		t.Error("page does not say node8 recorded no spawns")
	}
}

func TestFleetHTMLHostile(t *testing.T) {
	var b fleet.Builder
	for i := 0; i < 4; i++ {
		s := fleetNode(hostile, uint64(i)*100)
		if i == 3 {
			s.Failed, s.FailedNs, s.S2ENs = 10, 20_000, 264_000
		}
		if err := b.Add(fixture.Recording(s), "\"><img onerror=x>"+string(rune('a'+i))+".rec"); err != nil {
			t.Fatal(err)
		}
	}
	page := fleetHTML(t, b.Fleet())
	text := string(page)
	if strings.Contains(strings.ToLower(text), "<script") || handlerRe.MatchString(text) {
		t.Error("a hostname or file name reached the page as markup")
	}
	svgParts(t, page)
	if err := WriteFleetHTML(failWriter{}, testFleet(t)); err == nil {
		t.Error("no error writing to a full device")
	}
}
