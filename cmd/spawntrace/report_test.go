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
