//go:build integration && linux

package integration

import (
	"cmp"
	"slices"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

// summaryRows is a summary's spawn rows in time order (Seq), for tests of
// small recordings.
func summaryRows(t *testing.T, s *summary.Summary) []spawn.Spawn {
	t.Helper()
	var rows []spawn.Spawn
	if err := s.EachSpawn(func(sp *spawn.Spawn) error { rows = append(rows, *sp); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b spawn.Spawn) int { return cmp.Compare(a.Seq, b.Seq) })
	return rows
}

// summarized summarizes rec, failing the test on an error.
func summarized(t testing.TB, rec *recording.Recording) summary.Summary {
	t.Helper()
	s, err := summary.Summarize(rec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
