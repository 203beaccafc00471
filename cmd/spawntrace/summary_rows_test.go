package main

import (
	"cmp"
	"slices"
	"testing"

	"github.com/spawntrace/spawntrace/analyze"
)

// summaryRows is a summary's spawn rows in time order (Seq), for tests of
// small recordings.
func summaryRows(t *testing.T, s *analyze.Summary) []analyze.Spawn {
	t.Helper()
	var rows []analyze.Spawn
	if err := s.EachSpawn(func(sp *analyze.Spawn) error { rows = append(rows, *sp); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b analyze.Spawn) int { return cmp.Compare(a.Seq, b.Seq) })
	return rows
}
