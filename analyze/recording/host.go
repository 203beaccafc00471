package recording

import (
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
