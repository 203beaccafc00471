package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet wraps flag.FlagSet so every option has a long and a short name
// and the help lists them together.
type flagSet struct {
	*flag.FlagSet
	lines []string
}

func newFlagSet(name string, stderr io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.SetOutput(stderr)
	return fs
}

func (fs *flagSet) names(short, long, arg string) string {
	var parts []string
	if short != "" {
		parts = append(parts, "-"+short)
	}
	if long != "" {
		parts = append(parts, "--"+long)
	}
	s := strings.Join(parts, ", ")
	if arg != "" {
		s += " " + arg
	}
	return s
}

func (fs *flagSet) boolVar(p *bool, short, long, help string) {
	for _, n := range []string{short, long} {
		if n != "" {
			fs.BoolVar(p, n, *p, help)
		}
	}
	fs.lines = append(fs.lines, fmt.Sprintf("  %-28s %s", fs.names(short, long, ""), help))
}

func (fs *flagSet) stringVar(p *string, short, long, arg, help string) {
	for _, n := range []string{short, long} {
		if n != "" {
			fs.StringVar(p, n, *p, help)
		}
	}
	fs.lines = append(fs.lines, fmt.Sprintf("  %-28s %s", fs.names(short, long, arg), help))
}

func (fs *flagSet) intVar(p *int, short, long, arg, help string) {
	for _, n := range []string{short, long} {
		if n != "" {
			fs.IntVar(p, n, *p, help)
		}
	}
	line := fmt.Sprintf("  %-28s %s", fs.names(short, long, arg), help)
	if *p != 0 {
		line += fmt.Sprintf(" (default %d)", *p)
	}
	fs.lines = append(fs.lines, line)
}

// listVar collects a repeatable option.
type listVar []string

func (l *listVar) String() string     { return strings.Join(*l, ",") }
func (l *listVar) Set(s string) error { *l = append(*l, s); return nil }

func (fs *flagSet) listVar(p *listVar, long, arg, help string) {
	fs.Var(p, long, help)
	fs.lines = append(fs.lines, fmt.Sprintf("  %-28s %s", fs.names("", long, arg), help))
}

// parse parses args; when it returns false the caller exits with code:
// 0 after -h, which printed the help, 2 (usage) after a bad flag or value,
// reported in one line: the whole help after it would scroll it away.
func (fs *flagSet) parse(args []string) (code int, ok bool) {
	w, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(w)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return 0, false
	case err != nil:
		return fail(w, exitUsage, "%v (%s -h lists the flags)", err, fs.Name()), false
	}
	return 0, true
}

func (fs *flagSet) setUsage(head, examples string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, head)
		fmt.Fprintln(w, "\nFlags:")
		for _, l := range fs.lines {
			fmt.Fprintln(w, l)
		}
		if examples != "" {
			fmt.Fprint(w, "\nExamples:\n"+examples)
		}
	}
}
