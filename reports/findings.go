package reports

import (
	"fmt"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/summary"
)

// This file words the summary's findings (summary.Finding: numbers only):
// each one's title, evidence, advice and how its saving was estimated,
// and the notes, a line each.

// findingText is one finding in words.
type findingText struct {
	title, evidence, advice string
}

// writeFindings writes the ranked findings and the notes of s.
func writeFindings(bw *termWriter, s *summary.Summary) {
	if len(s.Findings) > 0 {
		bw.printf("\nFindings (ranked by estimated saving):\n")
		for i := range s.Findings {
			f := &s.Findings[i]
			t := wordFinding(f, s.WallNs)
			bw.printf("%2d. %s [%s, %s]\n", i+1, t.title, f.ID, savingText(f))
			wrap(bw, "    ", t.evidence)
			if t.advice != "" {
				wrap(bw, "    -> ", t.advice)
			}
			wrap(bw, "    ", basisText(f))
		}
	} else if s.SpawnCount() > 0 {
		bw.printf("\nFindings: %s\n", noFindingsText())
	}
	if len(s.Notes) > 0 {
		bw.printf("\nNotes:\n")
		for i := range s.Notes {
			wrap(bw, "  - ", noteText(&s.Notes[i], s.WallNs))
		}
	}
}

// noFindingsText says why a run with spawns has no findings.
func noFindingsText() string {
	return fmt.Sprintf("none; no cause of spawn cost above %s and %.0f%% of the run.",
		ms(summary.MinCostNs), 100*summary.MinCostShare)
}

// savingText is a finding's estimated saving, as its heading shows it.
func savingText(f *summary.Finding) string {
	switch {
	case f.SavingNs > 0 && f.UpperBound:
		return "≤" + ms(f.SavingNs)
	case f.SavingNs > 0:
		return "~" + ms(f.SavingNs)
	}
	return "not separable"
}

// wordFinding words a ranked finding.
func wordFinding(f *summary.Finding, wallNs uint64) findingText {
	saves := ": saves about " + ms(f.SavingNs)
	if f.UpperBound {
		saves = ": saves up to " + ms(f.SavingNs)
	}
	switch {
	case f.ForkCopy != nil:
		x := f.ForkCopy
		cost := x.CopyNs + x.TeardownNs
		ev := fmt.Sprintf("%d fork-like spawns from parents with RSS %s: address-space copy %s, "+
			"exec teardown of the copy %s; %s in all, %s", x.Spawns, rssRange(x), ms(x.CopyNs), ms(x.TeardownNs),
			ms(cost), ofRun(cost, wallNs))
		if sig := sigText(x.Signatures); sig != "" {
			ev += " (" + sig + ")"
		}
		return findingText{"fork-like spawns copy the parent's address space", ev,
			"spawn vfork-like (posix_spawn, vfork, clone CLONE_VM|CLONE_VFORK) to skip the copy and the teardown" + saves}
	case f.THP != nil:
		x := f.THP
		mode := x.THPMode
		if mode == "" {
			mode = "unknown"
		}
		return findingText{"large parents fork from 4 KiB pages",
			fmt.Sprintf("%d parent(s) with %s anonymous memory had %s in transparent huge pages (%s%s); "+
				"THP mode here: %s; their copies took %s and their teardowns %s", x.Parents, mib(x.AnonBytes), mib(x.HugeBytes),
				pct(x.HugeBytes, x.AnonBytes), estimatedText(x.HugeFromPgtables), mode, ms(x.CopyNs), ms(x.TeardownNs)),
			"back the parent's heap with transparent huge pages (THP 'always', or madvise(MADV_HUGEPAGE) on it): " +
				"forks of huge-page memory were measured ~20x cheaper, copy and teardown, saving up to about " + ms(f.SavingNs)}
	case f.RustFallback != nil:
		x := f.RustFallback
		ev := fmt.Sprintf("%d spawns of Rust programs match std's fallback: socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) "+
			"(pipe2(O_CLOEXEC) before Rust 1.64) then a fork-like clone; their copies and teardowns cost %s",
			x.Spawns, ms(x.CopyNs+x.TeardownNs))
		if x.RSSMedianBytes > 0 {
			ev += fmt.Sprintf(" (%s per spawn, parents of median RSS %s)",
				ms((x.CopyNs+x.TeardownNs)/uint64(x.Spawns)), mib(x.RSSMedianBytes))
		}
		advice := "Rust uses posix_spawn only with glibc >= 2.24 and without options that need code in the child " +
			"(pre_exec, uid/gid, process_group, a cwd with a relative program path): drop those to get vfork-like spawns"
		if f.SavingNs > 0 {
			advice += saves
		}
		return findingText{"Rust's Command falls back to fork", ev, advice}
	case f.PathSearch != nil:
		x := f.PathSearch
		ev := fmt.Sprintf("%d failed execs before the binary was found, %.1f per spawn in %d spawns, %s in all",
			x.FailedExecs, float64(x.FailedExecs)/float64(x.Spawns), x.Spawns, ms(x.FailedExecNs))
		advice := "spawn by absolute path, or put the binary's directory first in PATH" + saves
		if x.Example != "" && x.ExampleSpawns < x.Spawns {
			ev += fmt.Sprintf("; most in %d spawns of %s (%.1f failed execs each, %s)", x.ExampleSpawns,
				TermSafe(x.Example), float64(x.ExampleFailedExecs)/float64(x.ExampleSpawns), ms(x.ExampleFailedExecNs))
		}
		if x.UntalliedSpawns > 0 {
			ev += untalliedText(x)
		}
		if x.Example != "" {
			advice = fmt.Sprintf("spawn by absolute path (e.g. %s), or put its directory first in PATH%s",
				TermSafe(x.Example), saves)
		}
		return findingText{"execs search PATH", ev, advice}
	case f.VforkBlocked != nil:
		x := f.VforkBlocked
		return findingText{"one thread spends most of the run waiting in vfork-like spawns",
			fmt.Sprintf("%d vfork-like spawns from one thread kept it off CPU for %s in all (%s per spawn), %s, "+
				"until each child exec'd", x.Spawns, ms(x.BlockedNs), ms(x.BlockedNs/uint64(x.Spawns)), ofRun(x.BlockedNs, wallNs)),
			"each wait is what a vfork-like spawn costs, but one thread serializes them: spawn from a second thread " +
				"to overlap them, and keep the child's work before exec short" + saves}
	case f.LockStall != nil:
		x := f.LockStall
		return findingText{"forks stall the parent's other threads",
			fmt.Sprintf("during %d forks, other threads of the parent waited %s in all for the mmap lock the copy held",
				x.Forks, ms(x.StallNs)),
			"spawn vfork-like, or from a small helper process, so the copy does not hold a busy process's lock" + saves}
	case f.StartupCPUID != nil:
		return wordStartupCPUID(f.StartupCPUID)
	}
	return findingText{title: string(f.ID)}
}

func wordStartupCPUID(x *summary.StartupCPUIDFacts) findingText {
	ev := fmt.Sprintf("%d of %d on-CPU samples of the tree (%s) were in glibc's start-up CPU detection (%s): ~%s of CPU",
		x.Samples, x.TotalSamples, pct(uint64(x.Samples), uint64(x.TotalSamples)), strings.Join(x.Funcs, ", "), ms(x.CPUNs))
	if x.Execs > 0 {
		ev += fmt.Sprintf(", ~%.0f µs per exec over %d execs", float64(x.CPUNs)/1e3/float64(x.Execs), x.Execs)
	}
	where := "CPUID traps to the hypervisor on virtual machines, each a VM exit"
	switch v := x.Virtualization; {
	case v == "none":
		where = "this host reports no hypervisor, yet CPUID was slow: a CPU or firmware that traps it, or a nested guest"
	case v != "":
		where = "this host is a virtual machine (" + v + "), where every CPUID traps to the hypervisor (a VM exit)"
	}
	return findingText{"new programs spend their start-up in CPUID", ev + "; " + where,
		"every glibc program runs this before main, static or dynamic: " +
			"exec fewer programs (keep a worker process, batch the work), or run the spawning workload where CPUID " +
			"is cheap (bare metal, or a hypervisor that does not trap it); spawntrace compare with such a host " +
			"shows the difference per exec"}
}

// basisText says, in one line, how a finding's saving was estimated.
func basisText(f *summary.Finding) string {
	var how string
	switch f.Basis {
	case summary.BasisCopyTeardown:
		how = "estimate: the copy and teardown CPU time measured here, which vfork-like spawns skip"
	case summary.BasisFailedExecs:
		how = "upper bound: the failed execs' time measured here, each with spawntrace's own cost per call in it " +
			"(untraced, they cost less)"
	case summary.BasisStall:
		how = "estimate: the other threads' wait for the lock, measured here"
	case summary.BasisCPUSamples:
		how = "rough estimate: on-CPU samples times the sampling period, of time that a host where CPUID " +
			"does not trap would mostly save (not separable on this host)"
	case summary.BasisHugePageRatio:
		how = fmt.Sprintf("rough estimate: %.0f%% of the measured copies and teardowns, as huge pages saved on another machine",
			100*f.THP.SavingShare)
	case summary.BasisOverlap:
		how = "rough estimate: half the wait outside failed execs, if a second thread overlaps it"
	default:
		return "no estimate: not separable in one run; compare with a run without the cause"
	}
	if f.Capped {
		how += "; capped at what these spawns and the run took"
	}
	return how
}

// noteText words a note: a cause seen that saves too little to rank.
func noteText(f *summary.Finding, wallNs uint64) string {
	switch {
	case f.PathSearch != nil:
		x := f.PathSearch
		t := fmt.Sprintf("failed execs come from a PATH search: %d, %.1f per spawn in %d spawns", x.FailedExecs,
			float64(x.FailedExecs)/float64(x.Spawns), x.Spawns)
		if x.Example != "" {
			t += " (most in spawns of " + TermSafe(x.Example) + ")"
		}
		if x.UntalliedSpawns > 0 {
			t += untalliedText(x)
		}
		small := fmt.Sprintf("%.1f%% of the run", 100*float64(x.FailedExecNs)/float64(max(wallNs, 1)))
		if x.FailedExecNs < summary.MinCostNs {
			small = "under " + ms(summary.MinCostNs)
		}
		return t + fmt.Sprintf(", %s in all (%s, too little to rank); spawning by absolute path avoids them",
			ms(x.FailedExecNs), small)
	case f.NotFound != nil:
		x := f.NotFound
		t := fmt.Sprintf("%d failed execs found no program to run, in %d %s", x.FailedExecs, x.Spawns,
			plural(x.Spawns, "spawn", "spawns"))
		switch {
		case x.Example != "" && x.ExampleSpawns == x.Spawns:
			t += " (looking for " + TermSafe(x.Example) + ")"
		case x.Example != "":
			t += fmt.Sprintf(" (most looking for %s: %d in %d %s)", TermSafe(x.Example), x.ExampleFailedExecs,
				x.ExampleSpawns, plural(x.ExampleSpawns, "spawn", "spawns"))
		}
		return t + fmt.Sprintf(", %s in all (%s): no absolute path avoids these; check once whether the program "+
			"exists, or install it", ms(x.FailedExecNs), ofRun(x.FailedExecNs, wallNs))
	case f.VforkBlocked != nil:
		x := f.VforkBlocked
		t := fmt.Sprintf("vfork-like spawns waited %s in all (%s per spawn, %s) until each child exec'd",
			ms(x.BlockedNs), ms(x.BlockedNs/uint64(x.Spawns)), ofRun(x.BlockedNs, wallNs))
		if x.FailedExecNs > 0 {
			t += fmt.Sprintf(", %s of it in failed execs", ms(x.FailedExecNs))
		}
		if x.Overlappable {
			return t + ": one thread spent most of the run in these waits; spawning from a second thread may overlap " +
				"them, by as much as the CPUs are idle meanwhile (not estimated: the children may already keep them busy)"
		}
		return t + ": the wait every vfork-like spawn has, not a cost to remove (one thread did not wait most of the run)"
	case f.LargeEnv != nil:
		x := f.LargeEnv
		return fmt.Sprintf("a large environment is copied into every exec: median %d variables, %d bytes, in %d execs; "+
			"one run cannot separate its cost (compare with a small-environment run: spawntrace compare); "+
			"pass children only the variables they need (env -i, Command.env_clear, subprocess env=...)",
			x.MedianCount, x.MedianBytes, x.Execs)
	}
	return string(f.ID)
}

// estimatedText says that huge pages were estimated from page tables.
func estimatedText(fromPgtables bool) string {
	if fromPgtables {
		return ", by the size of their page tables"
	}
	return ""
}

func ms(ns uint64) string { return fmt.Sprintf("%.1f ms", float64(ns)/1e6) }

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func pct(part, whole uint64) string {
	if whole == 0 {
		return "?%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
}

// ofRun words a time's share of the run. Time summed over threads that ran
// at once can exceed the run's wall time; that is said, not shown as 109%.
func ofRun(ns, wallNs uint64) string {
	if ns > wallNs && wallNs > 0 {
		return "more than the run's wall time, summed over threads that overlapped"
	}
	return pct(ns, wallNs) + " of the run"
}

// rssRange words the parents' sizes: "1024 MiB" when they are alike,
// "8 MiB to 1024 MiB (median 256 MiB)" when the costly ones are not typical.
func rssRange(x *summary.ForkCopyFacts) string {
	lo, hi := x.RSSMinBytes, x.RSSMaxBytes
	if hi == 0 {
		return "unknown"
	}
	if hi-lo < hi/10 {
		return mib(x.RSSMedianBytes)
	}
	return fmt.Sprintf("%s to %s (median %s)", mib(lo), mib(hi), mib(x.RSSMedianBytes))
}

// sigText words the signatures as "glibc fork() x10, fork() x2".
func sigText(sigs []summary.SigCount) string {
	parts := make([]string, 0, len(sigs))
	for _, c := range sigs {
		parts = append(parts, fmt.Sprintf("%s x%d", c.Name, c.Count))
	}
	return strings.Join(parts, ", ")
}

// untalliedText says how many spawns' failed execs were not told apart by
// the program exec'd: they came after summary.MaxFailedExes programs.
func untalliedText(x *summary.PathSearchFacts) string {
	return fmt.Sprintf("; %d spawns' programs came after %d others and are not told apart", x.UntalliedSpawns,
		summary.MaxFailedExes)
}
