package recording

import "testing"

func TestMainScript(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"python3", "build.py", "-v"}, "build.py"},
		{[]string{"/usr/bin/python3.11", "-u", "-X", "dev", "-Wignore", "a/b.py"}, "a/b.py"},
		{[]string{"python3", "-uW", "error", "t.py"}, "t.py"},
		{[]string{"python3", "-Bu", "t.py"}, "t.py"},
		{[]string{"python3", "--check-hash-based-pycs", "always", "t.py"}, "t.py"},
		{[]string{"python3", "-m", "pytest", "x.py"}, ""},
		{[]string{"python3", "-c", "import os", "x.py"}, ""},
		{[]string{"python3", "-"}, ""},
		{[]string{"python3", "--", "-odd.py"}, "-odd.py"},
		{[]string{"python3"}, ""},
		{[]string{"pypy3", "run.py"}, "run.py"},
		{[]string{"python3-dbg", "run.py"}, "run.py"},
		{[]string{"bash", "run.sh"}, ""},
		{[]string{"pythonista", "run.py"}, ""},
		{[]string{"/usr/bin/env", "python3", "run.py"}, ""},
	} {
		rec := &Recording{MainArgv: c.argv}
		if got := rec.MainScript(); got != c.want {
			t.Errorf("MainScript(%q) = %q, want %q", c.argv, got, c.want)
		}
	}
}
