package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A mistyped flag or value is one line naming it and where the flags are
// listed, exit 2; -h still prints the whole help, exit 0.
func TestBadFlagIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "--", "true"}, "spawntrace: flag provided but not defined: -bogus (spawntrace -h lists the flags)\n"},
		{[]string{"--slowest", "abc", "--", "true"}, `spawntrace: invalid value "abc" for flag -slowest: parse error (spawntrace -h lists the flags)` + "\n"},
		{[]string{"report", "--bogus", "x.strec"}, "spawntrace: flag provided but not defined: -bogus (spawntrace report -h lists the flags)\n"},
		{[]string{"compare", "-f"}, "spawntrace: flag needs an argument: -f (spawntrace compare -h lists the flags)\n"},
		{[]string{"bench", "-n", "x"}, `spawntrace: invalid value "x" for flag -n: parse error (spawntrace bench -h lists the flags)` + "\n"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != exitUsage || errb.String() != tc.want || out.Len() != 0 {
			t.Errorf("spawntrace %s: exit %d, stderr %q, stdout %q; want exit %d, stderr %q",
				strings.Join(tc.args, " "), code, errb.String(), out.String(), exitUsage, tc.want)
		}
	}
	for _, args := range [][]string{{"record", "-h"}, {"report", "-h"}, {"compare", "--help"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		if code != 0 || !strings.Contains(errb.String(), "\nFlags:\n") || !strings.Contains(errb.String(), "\nExamples:\n") {
			t.Errorf("spawntrace %s: exit %d, stderr %q; want exit 0 and the whole help", strings.Join(args, " "), code, errb.String())
		}
	}
}
