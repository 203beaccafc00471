// Package intern shares one copy of each repeated string among the
// events, spawns and rows that analyze decodes by the million.
package intern

// MaxStrings bounds a table: past it, new strings are copied as they
// come rather than remembered, so that a run of a million distinct file
// names costs no table on top of the names themselves. The spawn rows'
// codec numbers strings up to the same bound on both sides.
const MaxStrings = 1 << 14

// MaxStringBytes bounds the strings a table remembers: a recording's
// event may hold a string of up to a megabyte, and MaxStrings distinct
// ones remembered were 16 GiB (measured: 400 file names of 1 MB, read
// through a reorder window of 8 events, held 345 MiB until the pass
// ended; 9 MiB with this bound). Comm and file names are far shorter.
const MaxStringBytes = 1 << 10

// Table shares one copy of each repeated string (comm, exe, signature):
// without it each of a million spawns would hold copies of the same few.
type Table map[string]string

// Bytes returns b as a string, the interned copy when there is one.
func (in *Table) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := (*in)[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	in.keep(s)
	return s
}

// String returns s's interned copy, or s, now remembered.
func (in *Table) String(s string) string {
	if s == "" {
		return ""
	}
	if t, ok := (*in)[s]; ok {
		return t
	}
	in.keep(s)
	return s
}

func (in *Table) keep(s string) {
	if *in == nil {
		*in = map[string]string{}
	}
	if len(*in) < MaxStrings && len(s) <= MaxStringBytes {
		(*in)[s] = s
	}
}
