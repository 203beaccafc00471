package recording

import (
	"path"
	"strings"
)

// MainScript is the script the workload's program ran when that program
// is a Python interpreter ("python3 build.py", "#!/usr/bin/env python3"):
// the name a Python profiler (py-spy) gives the program, where the
// executable's own name is only python3.11's. "-m MODULE" and "-c" name
// no file: "" then, as for any other program or a recording without
// MainArgv.
func (rec *Recording) MainScript() string {
	argv := rec.MainArgv
	if len(argv) < 2 || !isPython(path.Base(argv[0])) {
		return ""
	}
	return pythonScript(argv[1:])
}

// isPython says whether a program's name is a CPython or PyPy
// interpreter's: python, python3, python3.11, pypy3.
func isPython(name string) bool {
	for _, p := range []string{"python", "pypy"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			return strings.Trim(strings.TrimSuffix(rest, "-dbg"), "0123456789.") == ""
		}
	}
	return false
}

// pythonScript finds the script among a CPython command line's
// arguments (after argv[0]), as CPython's own option parser would:
// single-letter options may be grouped (-uB), -W and -X take a value
// (attached or next), -c and -m end the options without a file, "-" is
// stdin, "--" ends the options.
func pythonScript(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case a == "-" || a == "":
			return ""
		case a == "--check-hash-based-pycs":
			i++ // its value
			continue
		case strings.HasPrefix(a, "--"):
			continue // --version, --help-env ...
		case a[0] != '-':
			return a
		}
		for j := 1; j < len(a); j++ {
			switch a[j] {
			case 'c', 'm':
				return ""
			case 'W', 'X':
				if j == len(a)-1 {
					i++ // the value is the next argument
				}
				j = len(a)
			}
		}
	}
	return ""
}
