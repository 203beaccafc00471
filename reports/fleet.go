package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/fleet"
)

// fleetNamesShown is how many hosts a group lists by name.
const fleetNamesShown = 6

const fleetCostNote = "one spawn's cost: from the spawning call's entry to the end of the child's successful exec, " +
	"its parts summed as compare splits them"

// fleetOutlierRule says when a host is an outlier, with the fleet's numbers.
func fleetOutlierRule(f *fleet.Fleet) string {
	return fmt.Sprintf("an outlier's median is above %s: the fleet's median %s plus the larger of %.0f scaled MADs "+
		"(MAD %s) and %.0f%% of the median", durText(f.ThresholdNs), durText(f.MedianNs), fleet.OutlierK,
		durText(f.MADNs), 100*fleet.OutlierMinRatio)
}

// fleetHeadline is the page's first line.
func fleetHeadline(f *fleet.Fleet) string {
	return fleetHeadlineQuoted(f, func(cmd string) string { return "`" + cmd + "`" })
}

// fleetHeadlineQuoted is fleetHeadline with the command quoted by quote.
func fleetHeadlineQuoted(f *fleet.Fleet, quote func(string) string) string {
	s := fmt.Sprintf("%d recordings", len(f.Hosts))
	if len(f.Command) > 0 {
		s += " of " + quote(fitRight(strings.Join(f.Command, " "), 60))
	}
	return s
}

// groupHosts is "node1, node2 and 3 more".
func groupHosts(names []string) string {
	if len(names) <= fleetNamesShown {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:fleetNamesShown], ", ") + fmt.Sprintf(" and %d more", len(names)-fleetNamesShown)
}

// groupValue is a factor's value as shown.
func groupValue(name, v string) string {
	if name == compare.FactPathEntries && v == compare.Unset {
		return "PATH unset"
	}
	return v
}

// outlierCause is an outlier's cause in words: title, tag and evidence.
func outlierCause(o *fleet.Outlier) (title, tag, evidence string) {
	if o.Cause == nil {
		return "no cause separated", "", "the comparison with the typical host names nothing that makes " + o.Host +
			"'s spawns cost more; see `spawntrace compare` of the two recordings"
	}
	title, evidence = FindingText(o.Comparison, o.Cause)
	return title, findingTag(o.Comparison, o.Cause), evidence
}

// otherFindings lists the comparison's other findings about the outlier,
// by id and cost.
func otherFindings(o *fleet.Outlier) string {
	var parts []string
	for i := range o.Comparison.Findings {
		f := &o.Comparison.Findings[i]
		if f.Subject != o.Host || (o.Cause != nil && f.ID == o.Cause.ID) {
			continue
		}
		parts = append(parts, findingTag(o.Comparison, f))
	}
	return strings.Join(parts, "; ")
}

// WriteFleet writes a fleet as text that fits in 100 columns.
func WriteFleet(w io.Writer, f *fleet.Fleet) error {
	bw := newTermWriter(w)
	bw.printf("Fleet: %s\n", fleetHeadline(f))
	wrap(bw, "  ", "("+fleetCostNote+")")

	bw.printf("\nHosts, the costliest first (* outlier)\n")
	names, marks := make([]string, len(f.Hosts)), make([]string, len(f.Hosts))
	for i := range f.Hosts {
		names[i] = f.Hosts[i].Name
		if f.Hosts[i].Outlier {
			marks[i] = " *"
		}
	}
	cells, width, shortened := fleetHostCells(names, marks)
	bw.printf("  %4s  %s %7s %10s %10s %10s  %-6s %10s\n", "rank", cellLeft("host", width), "spawns", "median", "p90",
		"mean", "mech", "parent RSS")
	for i := range f.Hosts {
		h := &f.Hosts[i]
		if h.Spawns == 0 {
			bw.printf("  %4s  %s %7d %10s\n", "-", cellLeft(cells[i], width), 0, "no spawns")
			continue
		}
		bw.printf("  %4d  %s %7d %10s %10s %10s  %s %10s\n", h.Rank, cellLeft(cells[i], width), h.Spawns,
			durText(h.MedianNs), durText(h.P90Ns), durText(h.MeanNs), cellLeft(string(h.Side.Dominant), 6),
			sizeOrDash(h.Side.ParentRSSBytes))
	}
	if shortened != "" {
		wrap(bw, "  ", "("+shortened+"; whole in what follows and in --format json)")
	}
	if len(f.Hosts) > len(f.NoSpawns) {
		wrap(bw, "  ", "("+fleetOutlierRule(f)+")")
	}

	if len(f.Factors) > 0 {
		bw.printf("\nWhat differs, the largest spread first (each group: the median of its hosts' medians)\n")
		for _, fc := range f.Factors {
			bw.printf("  %s (spread %s)\n", fc.Name, durText(fc.SpreadNs))
			for _, g := range fc.Groups {
				wrap(bw, fmt.Sprintf("    %s %10s  %3d: ", cellLeft(groupValue(fc.Name, g.Value), 22),
					durText(g.MedianNs), len(g.Hosts)), groupHosts(g.Hosts))
			}
		}
	} else if len(f.Hosts) > len(f.NoSpawns) {
		bw.printf("\n")
		wrap(bw, "", "What differs: nothing the hosts record (kernel, libc, THP, CPU, virtualization, PATH, "+
			"mechanism, spawner, parent RSS, environment)")
	}

	if len(f.Outliers) > 0 {
		typ := f.Typical
		bw.printf("\n")
		wrap(bw, "", fmt.Sprintf("Outliers, each compared with the typical host, %s (%s per spawn)", typ,
			durText(typicalNs(f))))
		for i := range f.Outliers {
			o := &f.Outliers[i]
			wrap(bw, fmt.Sprintf("%2d. ", i+1), fmt.Sprintf("%s: %s per spawn, %s over %s", o.Host, durText(o.MedianNs),
				signedDur(o.ExcessNs), typ))
			title, tag, ev := outlierCause(o)
			if tag != "" {
				tag = " [" + tag + "]"
			}
			wrap(bw, "    cause: ", title+tag)
			wrap(bw, "    ", ev)
			if other := otherFindings(o); other != "" {
				wrap(bw, "    also: ", other)
			}
		}
	} else if len(f.Hosts) > len(f.NoSpawns) {
		bw.printf("\nOutliers: none\n")
	}
	if len(f.NoSpawns) > 0 {
		bw.printf("\n")
		wrap(bw, "note: ", "no spawns recorded on "+strings.Join(f.NoSpawns, ", ")+": listed, not ranked")
	}
	return bw.Flush()
}

// typicalNs is the typical host's median cost.
func typicalNs(f *fleet.Fleet) float64 {
	for i := range f.Hosts {
		if f.Hosts[i].Name == f.Typical {
			return f.Hosts[i].MedianNs
		}
	}
	return 0
}

// WriteFleetMarkdown writes a fleet as GitHub-flavoured Markdown.
func WriteFleetMarkdown(w io.Writer, f *fleet.Fleet) error {
	bw := newTermWriter(w)
	bw.printf("# spawntrace compare: %s\n\n_%s._\n\n", fleetHeadlineQuoted(f, mdCode), fleetCostNote)
	if len(f.Outliers) > 0 {
		bw.printf("## Outliers\n\nEach compared with the typical host, %s (%s per spawn).\n\n", md(f.Typical),
			durText(typicalNs(f)))
		for i := range f.Outliers {
			o := &f.Outliers[i]
			title, tag, ev := outlierCause(o)
			if tag != "" {
				tag = " (" + md(tag) + ")"
			}
			bw.printf("%d. **%s**: %s per spawn, %s. **%s**%s: %s\n", i+1, md(o.Host), durText(o.MedianNs),
				signedDur(o.ExcessNs), md(title), tag, md(ev))
		}
		bw.WriteString("\n")
	}
	bw.printf("## Hosts, the costliest first\n\n| rank | host | spawns | median | p90 | mean | mechanism | parent RSS |\n" +
		"|--:|---|--:|--:|--:|--:|---|--:|\n")
	for i := range f.Hosts {
		h := &f.Hosts[i]
		name := md(h.Name)
		if h.Outlier {
			name = "**" + name + "** (outlier)"
		}
		if h.Spawns == 0 {
			bw.printf("| - | %s | 0 | no spawns | | | | |\n", name)
			continue
		}
		bw.printf("| %d | %s | %d | %s | %s | %s | %s | %s |\n", h.Rank, name, h.Spawns, durText(h.MedianNs),
			durText(h.P90Ns), durText(h.MeanNs), h.Side.Dominant, sizeOrDash(h.Side.ParentRSSBytes))
	}
	if len(f.Hosts) > len(f.NoSpawns) {
		bw.printf("\n_%s._\n", md(fleetOutlierRule(f)))
	}
	if len(f.Factors) > 0 {
		bw.printf("\n## What differs\n\n| factor | value | median | hosts |\n|---|---|--:|---|\n")
		for _, fc := range f.Factors {
			name := md(fc.Name) + " (spread " + durText(fc.SpreadNs) + ")"
			for _, g := range fc.Groups {
				bw.printf("| %s | %s | %s | %d: %s |\n", name, md(groupValue(fc.Name, g.Value)), durText(g.MedianNs),
					len(g.Hosts), md(groupHosts(g.Hosts)))
				name = ""
			}
		}
	}
	return bw.Flush()
}

// WriteFleetJSON writes a fleet as one JSON document, each outlier's
// findings with their words.
func WriteFleetJSON(w io.Writer, f *fleet.Fleet) error {
	type findingJSON struct {
		Title    string `json:"title"`
		Evidence string `json:"evidence"`
		compare.CompareFinding
	}
	type outlierJSON struct {
		fleet.Outlier
		Cause    *findingJSON  `json:"cause,omitempty"`
		Findings []findingJSON `json:"findings"`
	}
	type hostJSON struct {
		fleet.Host
		Mechanism      string   `json:"mechanism,omitempty"`
		Signatures     []string `json:"signatures,omitempty"`
		ParentRSSBytes uint64   `json:"parent_rss_bytes"`
	}
	word := func(c *compare.Comparison, cf *compare.CompareFinding) findingJSON {
		t, ev := FindingText(c, cf)
		return findingJSON{Title: t, Evidence: ev, CompareFinding: *cf}
	}
	hosts := make([]hostJSON, 0, len(f.Hosts))
	for _, h := range f.Hosts {
		hosts = append(hosts, hostJSON{Host: h, Mechanism: string(h.Side.Dominant), Signatures: h.Side.Signatures,
			ParentRSSBytes: h.Side.ParentRSSBytes})
	}
	outliers := make([]outlierJSON, 0, len(f.Outliers))
	for i := range f.Outliers {
		o := &f.Outliers[i]
		out := outlierJSON{Outlier: *o, Findings: []findingJSON{}}
		if o.Cause != nil {
			c := word(o.Comparison, o.Cause)
			out.Cause = &c
		}
		for j := range o.Comparison.Findings {
			out.Findings = append(out.Findings, word(o.Comparison, &o.Comparison.Findings[j]))
		}
		outliers = append(outliers, out)
	}
	doc := struct {
		Format string `json:"format"`
		*fleet.Fleet
		Hosts    []hostJSON    `json:"hosts"`
		Outliers []outlierJSON `json:"outliers"`
		Rule     string        `json:"outlier_rule"`
	}{Format: "spawntrace-fleet", Fleet: f, Hosts: hosts, Outliers: outliers, Rule: fleetOutlierRule(f)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
