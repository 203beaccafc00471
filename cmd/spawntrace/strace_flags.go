package main

import (
	"fmt"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/reports"
)

// straceOptions are strace's flags that shape spawntrace's outputs the way
// they shape strace's: which calls (-e trace=, -e status=), how -o lines
// look (-t, -tt, -ttt, -T, -s) and how the -c table does (-S, -U), and -C.
type straceOptions struct {
	exprs        listVar // -e EXPR, repeatable
	failedOnly   bool    // -Z, or -e status=failed
	stampSeconds bool    // -t
	stampMicros  bool    // -tt
	stampEpoch   bool    // -ttt
	durations    bool    // -T
	strlen       int     // -s
	sortBy       string  // -S
	columns      string  // -U
	summaryPlus  bool    // -C

	// Parsed by check.
	trace *syscalls.TraceSet
	table reports.TableOptions
	lines reports.EventOptions
}

func (o *straceOptions) register(fs *flagSet) {
	fs.Var(&o.exprs, "e", "")
	fs.lines = append(fs.lines, fmt.Sprintf("  %-28s %s", "-e trace=SET", "show only the calls in SET (strace's: names, %process, %file, %network ..., !SET); a SET of spawn calls alone counts as --spawns-only"))
	fs.lines = append(fs.lines, fmt.Sprintf("  %-28s %s", "-e status=failed, -Z", "-o lines of failed calls only (the table still counts every call, as strace's)"))
	fs.BoolVar(&o.failedOnly, "Z", false, "")
	fs.boolVar(&o.summaryPlus, "C", "summary", "the strace -c table and event lines (to -o FILE, else stderr), as strace -C")
	fs.boolVar(&o.stampSeconds, "t", "", "-o lines start with the time of day (default: -tt -T)")
	fs.boolVar(&o.stampMicros, "tt", "", "-o lines start with the time of day with microseconds")
	fs.boolVar(&o.stampEpoch, "ttt", "", "-o lines start with seconds since the epoch, with microseconds")
	fs.boolVar(&o.durations, "T", "syscall-times", "-o lines end with the time spent in the call")
	o.strlen = 32 // strace's default
	fs.intVar(&o.strlen, "s", "string-limit", "N", "-o lines show N bytes of each string and N elements of argv, up to what was captured (16 arguments, 512 bytes)")
	fs.stringVar(&o.sortBy, "S", "summary-sort-by", "COLUMN", "sort the -c table by time (default), calls, errors, avg-time, name or nothing")
	fs.stringVar(&o.columns, "U", "summary-columns", "COLUMNS", "the -c table's columns, as strace -U: time-percent, total-time, avg-time, calls, errors, name")
}

// check parses the flags; its errors are usage errors naming the bad value.
func (o *straceOptions) check() error {
	for _, e := range o.exprs {
		qual, val, ok := strings.Cut(e, "=")
		if !ok {
			qual, val = "trace", e // strace: -e SET is -e trace=SET
		}
		switch qual {
		case "trace", "t":
			s, err := syscalls.ParseTraceSet(val)
			if err != nil {
				return fmt.Errorf("-e %s: %v", e, err)
			}
			o.trace = s
		case "status":
			if val != "failed" {
				return fmt.Errorf("-e %s: only status=failed is supported", e)
			}
			o.failedOnly = true
		default:
			return fmt.Errorf("-e %s: only trace= and status= are supported", e)
		}
	}
	if o.strlen < 1 {
		return fmt.Errorf("-s %d: the string limit must be 1 or more", o.strlen)
	}
	o.table = reports.DefaultTableOptions
	o.table.Trace = o.trace
	if o.sortBy != "" {
		c, err := reports.ParseSortBy(o.sortBy)
		if err != nil {
			return fmt.Errorf("-S %s: %v", o.sortBy, err)
		}
		o.table.SortBy = c
	}
	if o.columns != "" {
		cols, err := reports.ParseColumns(o.columns)
		if err != nil {
			return fmt.Errorf("-U %s: %v", o.columns, err)
		}
		o.table.Columns = cols
	}
	o.lines = reports.DefaultEventOptions
	if o.stampSeconds || o.stampMicros || o.stampEpoch || o.durations {
		// Any of them says what the lines hold, as strace's do; none
		// keeps spawntrace's default, strace -tt -T's.
		o.lines.Stamp = reports.StampNone
		switch {
		case o.stampEpoch:
			o.lines.Stamp = reports.StampEpoch
		case o.stampMicros:
			o.lines.Stamp = reports.StampMicros
		case o.stampSeconds:
			o.lines.Stamp = reports.StampSeconds
		}
		o.lines.Durations = o.durations
	}
	o.lines.Strlen = o.strlen
	o.lines.Trace = o.trace
	o.lines.FailedOnly = o.failedOnly
	return nil
}
