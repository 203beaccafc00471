package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A negative --slowest is a usage error naming the value, as -s's is,
// rather than a summary that silently lists nothing.
func TestReportSlowestNegativeRefused(t *testing.T) {
	p := saveRec(t, t.TempDir(), "a.strec", cmpRecording(3, false))
	for _, tc := range []struct {
		n        string
		wantCode int
	}{{"-1", exitUsage}, {"0", 0}, {"2", 0}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"report", "--slowest", tc.n, p}, &out, &errb)
		if code != tc.wantCode {
			t.Errorf("report --slowest %s: exit %d, want %d; stderr %q", tc.n, code, tc.wantCode, errb.String())
			continue
		}
		if tc.wantCode != 0 {
			if want := "spawntrace: --slowest " + tc.n + ": "; !strings.HasPrefix(errb.String(), want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("report --slowest %s: stderr %q, want one line starting %q", tc.n, errb.String(), want)
			}
			if out.Len() != 0 {
				t.Errorf("report --slowest %s wrote a report: %q", tc.n, out.String())
			}
		}
	}
}

// Flags after the file (spawntrace report run.strec -c, as GNU tools take
// them) mean what they mean before it; two files are one line, exit 2.
func TestReportFlagsAfterFile(t *testing.T) {
	p := saveRec(t, t.TempDir(), "a.strec", cmpRecording(3, false))
	report := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"report"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, want, _ := report("-c", "--slowest", "2", p)
	if code != 0 {
		t.Fatalf("report -c %s: exit %d", p, code)
	}
	code, got, errs := report(p, "-c", "--slowest", "2")
	if code != 0 || got != want {
		t.Errorf("report %s -c --slowest 2: exit %d, stdout %q, stderr %q; want what report -c --slowest 2 %s prints", p, code, got, errs, p)
	}
	code, got, errs = report(p, p)
	if code != exitUsage || got != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "one recording") {
		t.Errorf("report FILE FILE: exit %d, stdout %q, stderr %q; want exit 2 and one line", code, got, errs)
	}
}
