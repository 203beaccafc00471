package recording

import (
	"fmt"
	"strconv"
	"strings"
)

// Libc is the C library the traced programs were linked with: what decides
// whether posix_spawn, Rust's Command and Python's subprocess fork or vfork.
type Libc struct {
	Name    string `json:"name"`              // "glibc", "musl", or "none" for a static program
	Version string `json:"version,omitempty"` // "2.36"; "" when it could not be read
	// Approx is set when Version is the newest symbol version the library
	// defines (GLIBC_2.N) rather than its release string: a lower bound.
	Approx bool   `json:"approx,omitempty"`
	Path   string `json:"path,omitempty"`
	// Source says whose libc this is: "mapped by make", or "interpreter of
	// /usr/bin/foo" when no spawning process could be read in time.
	Source string `json:"source,omitempty"`
}

// String is "glibc 2.36", "musl", "glibc >= 2.36".
func (l *Libc) String() string {
	if l == nil {
		return ""
	}
	switch {
	case l.Version == "":
		return l.Name
	case l.Approx:
		return l.Name + " >= " + l.Version
	}
	return l.Name + " " + l.Version
}

// GlibcBefore reports whether l is a glibc older than major.minor; known is
// false when l is not glibc or its version is unknown.
func (l *Libc) GlibcBefore(major, minor int) (before, known bool) {
	if l == nil || l.Name != "glibc" {
		return false, false
	}
	ma, mi, ok := parseVersion(l.Version)
	if !ok {
		return false, false
	}
	return ma < major || ma == major && mi < minor, true
}

// parseVersion reads "2.17" or "2.17.1" as (2, 17).
func parseVersion(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// EnvFacts describe the environment the workload started with: children
// inherit it, the kernel copies it at every exec, and posix_spawnp and
// execvp try each PATH entry in turn.
type EnvFacts struct {
	Vars        int  `json:"vars"`
	Bytes       int  `json:"bytes"`        // strings and their NULs, as the kernel counts env_end - env_start
	PathEntries int  `json:"path_entries"` // entries of PATH, empty ones included (they mean the cwd); 0 when unset
	PathSet     bool `json:"path_set"`
}

// EnvFactsOf counts an environment given as KEY=VALUE strings.
func EnvFactsOf(env []string) *EnvFacts {
	e := &EnvFacts{Vars: len(env)}
	for _, kv := range env {
		e.Bytes += len(kv) + 1
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			e.PathSet = true
			e.PathEntries = len(strings.Split(v, ":"))
		}
	}
	return e
}

// String is "35 variables, 1311 bytes; PATH of 6 entries".
func (e *EnvFacts) String() string {
	if e == nil {
		return ""
	}
	s := fmt.Sprintf("%d variables, %d bytes", e.Vars, e.Bytes)
	if !e.PathSet {
		return s + "; PATH unset"
	}
	return s + fmt.Sprintf("; PATH of %d %s", e.PathEntries, pluralWord(e.PathEntries, "entry", "entries"))
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
