package summary

import (
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// summaryBuilder takes each row as it finishes into every statistic of
// the summary, then stores it: the statistics need no second look at
// the rows, and hold a bounded amount each (exactPool).
type summaryBuilder struct {
	rec     *recording.Recording
	s       *Summary
	pool    *exactPool
	mech    map[spawn.Mechanism]*mechAcc
	fit     fitAcc
	facts   *findingFacts
	classes *classSet
	links   classLinks
}

func newSummaryBuilder(rec *recording.Recording, s *Summary) *summaryBuilder {
	pool := newExactPool()
	return &summaryBuilder{rec: rec, s: s, pool: pool, mech: map[spawn.Mechanism]*mechAcc{},
		facts: newFindingFacts(rec, pool), classes: newClassSet(pool)}
}

// finish takes a row that can change no more into the statistics and the
// summary's rows.
func (b *summaryBuilder) finish(sp *spawn.Spawn, link *classLink) {
	m := b.mech[sp.Mechanism]
	if m == nil {
		m = newMechAcc(b.pool)
		b.mech[sp.Mechanism] = m
	}
	m.add(sp)
	b.fit.add(sp.Seq, sp)
	b.facts.add(sp)
	c := b.classes.add(sp.Seq, sp)
	b.links.finish(link, sp.ParentTid, c, b.classes.addTotal)
	b.s.rows.add(sp)
}

// done computes what the summary shows from the statistics.
func (b *summaryBuilder) done() {
	s := b.s
	s.rows.finish()
	for _, m := range spawn.Mechanisms {
		if a := b.mech[m]; a != nil {
			s.Stats = append(s.Stats, a.stats(m))
		}
	}
	s.Fit = b.fit.fit()
	s.Classes = b.classes.classes()
	s.Findings, s.Notes = findings(b.rec, s, b.facts)
}

// mechAcc is the cost of the spawns of one mechanism (MechanismStats).
type mechAcc struct {
	count                             int
	clone, cp, s2e, blocked, teardown *valueDist
}

func newMechAcc(pool *exactPool) *mechAcc {
	return &mechAcc{clone: newDist(pool), cp: newDist(pool), s2e: newDist(pool), blocked: newDist(pool), teardown: newDist(pool)}
}

// add counts a spawn. Copy and teardown count only spawns where they were
// measured (non-zero).
func (a *mechAcc) add(sp *spawn.Spawn) {
	a.count++
	a.clone.add(sp.CloneDurNs)
	a.blocked.add(sp.BlockedNs)
	if sp.CopyNs > 0 {
		a.cp.add(sp.CopyNs)
	}
	if sp.ExecOK {
		a.s2e.add(sp.SpawnToExecNs)
	}
	if sp.TeardownNs > 0 {
		a.teardown.add(sp.TeardownNs)
	}
}

func (a *mechAcc) stats(m spawn.Mechanism) MechanismStats {
	return MechanismStats{Mechanism: m, Count: a.count, Clone: a.clone.dist(), Copy: a.cp.dist(),
		SpawnToExec: a.s2e.dist(), Blocked: a.blocked.dist(), Teardown: a.teardown.dist()}
}
