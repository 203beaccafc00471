package reports

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
)

// Column is a column of the strace -c table (strace's -U names).
type Column int

// The columns spawntrace measures, in strace 6.1 count.c's order. strace's
// min-time and max-time are not: the kernel side sums each call's time and
// keeps no extremes.
const (
	ColumnNone Column = iota
	ColumnPercent
	ColumnTotal
	ColumnAvg
	ColumnCalls
	ColumnErrors
	ColumnName
)

// DefaultColumns are strace -c's.
var DefaultColumns = []Column{ColumnPercent, ColumnTotal, ColumnAvg, ColumnCalls, ColumnErrors, ColumnName}

// columnAliases are count.c's column_aliases: the names -U and -S take.
// min and max time map to -1: strace's names, not measured here.
var columnAliases = map[string]Column{
	"time": ColumnPercent, "time_percent": ColumnPercent, "time-percent": ColumnPercent,
	"time_total": ColumnTotal, "time-total": ColumnTotal, "total_time": ColumnTotal, "total-time": ColumnTotal,
	"min_time": -1, "min-time": -1, "shortest": -1, "time_min": -1, "time-min": -1,
	"longest": -1, "max_time": -1, "max-time": -1, "time_max": -1, "time-max": -1,
	"avg_time": ColumnAvg, "avg-time": ColumnAvg, "time_avg": ColumnAvg, "time-avg": ColumnAvg,
	"calls": ColumnCalls, "count": ColumnCalls, "error": ColumnErrors, "errors": ColumnErrors,
	"name": ColumnName, "syscall": ColumnName, "syscall_name": ColumnName, "syscall-name": ColumnName,
	"none": ColumnNone, "nothing": ColumnNone,
}

func column(name string) (Column, error) {
	c, ok := columnAliases[name]
	switch {
	case !ok:
		return 0, fmt.Errorf("unknown column name %q", name)
	case c < 0:
		return 0, fmt.Errorf("column %q is not measured: the kernel side sums each call's time and keeps no minimum or maximum", name)
	}
	return c, nil
}

// ParseColumns parses strace's -U list; the name column is added at the
// end when missing, as strace does.
func ParseColumns(list string) ([]Column, error) {
	var cols []Column
	seen := map[Column]bool{}
	for _, name := range strings.Split(list, ",") {
		c, err := column(name)
		if err != nil {
			return nil, err
		}
		if c == ColumnNone {
			return nil, fmt.Errorf("unknown column name %q", name)
		}
		if seen[c] {
			return nil, fmt.Errorf("column %q given more than once", name)
		}
		seen[c] = true
		cols = append(cols, c)
	}
	if !seen[ColumnName] {
		cols = append(cols, ColumnName)
	}
	return cols, nil
}

// ParseSortBy parses strace's -S: the column rows are sorted by (none and
// nothing: by syscall number).
func ParseSortBy(name string) (Column, error) {
	return column(name)
}

// TableOptions shape the strace -c table as strace's flags do.
type TableOptions struct {
	SortBy  Column   // -S; zero: by syscall number ("nothing")
	Columns []Column // -U; nil: DefaultColumns
	// Trace is -e trace=SET: the calls counted (nil: all).
	Trace *syscalls.TraceSet
}

// DefaultTableOptions are strace -c's: sorted by time.
var DefaultTableOptions = TableOptions{SortBy: ColumnTotal}

// keep is the rows in the -e trace set.
func (o TableOptions) keep(rows []recording.SyscallStat) []recording.SyscallStat {
	if o.Trace == nil {
		return rows
	}
	var kept []recording.SyscallStat
	for _, r := range rows {
		if o.Trace.Has(r.ABI, r.Name) {
			kept = append(kept, r)
		}
	}
	return kept
}

// sortRows orders rows as count.c's comparison for o.SortBy: time, calls,
// errors and average descending, name ascending, none by number. strace's
// qsort leaves ties in any order; the next keys (time, calls, name, then
// number) break them here so that the output is reproducible.
func (o TableOptions) sortRows(rows []recording.SyscallStat) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		switch o.SortBy {
		case ColumnNone:
			return a.Nr < b.Nr
		case ColumnCalls:
			if a.Calls != b.Calls {
				return a.Calls > b.Calls
			}
		case ColumnErrors:
			if a.Errors != b.Errors {
				return a.Errors > b.Errors
			}
		case ColumnAvg:
			if x, y := avgNs(a.TimeNs, a.Calls), avgNs(b.TimeNs, b.Calls); x != y {
				return x > y
			}
		case ColumnName:
			if a.Name != b.Name {
				return a.Name < b.Name
			}
		}
		if a.TimeNs != b.TimeNs {
			return a.TimeNs > b.TimeNs
		}
		if a.Calls != b.Calls {
			return a.Calls > b.Calls
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Nr < b.Nr
	})
}
