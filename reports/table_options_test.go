package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/syscalls"
)

// TestTableOptions: -U columns in strace's layout (the name left-aligned,
// padded unless last), -S orders, -e trace= keeps its rows.
func TestTableOptions(t *testing.T) {
	stats := readStats(t)
	cols, err := ParseColumns("name,calls")
	if err != nil {
		t.Fatal(err)
	}
	set, err := syscalls.ParseTraceSet("%process")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSyscallTableWith(&buf, stats, TableOptions{SortBy: ColumnName, Columns: cols, Trace: set}); err != nil {
		t.Fatal(err)
	}
	want := "syscall              calls\n" +
		"---------------- ---------\n"
	if !strings.HasPrefix(buf.String(), want) {
		t.Fatalf("got:\n%s\nwant it to start:\n%s", buf.String(), want)
	}
	var names []string
	for _, l := range strings.Split(buf.String(), "\n")[2:] {
		if strings.HasPrefix(l, "---") {
			break
		}
		names = append(names, strings.Fields(l)[0])
		if !set.Has(0, names[len(names)-1]) {
			t.Errorf("row %q not in %%process", l)
		}
	}
	if len(names) == 0 {
		t.Fatalf("no rows:\n%s", buf.String())
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] > names[i] {
			t.Errorf("-S name: %s before %s", names[i-1], names[i])
		}
	}
	// -U adds the name last when it is missing, as strace.
	if cols, _ := ParseColumns("calls"); len(cols) != 2 || cols[1] != ColumnName {
		t.Errorf("-U calls: columns %v, want calls then name", cols)
	}
	for _, bad := range []string{"bogus", "calls,calls", "min-time", "none"} {
		if _, err := ParseColumns(bad); err == nil {
			t.Errorf("-U %s: no error", bad)
		}
	}
}
