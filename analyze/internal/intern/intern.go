// Package intern shares one copy of each repeated string among the
// events, spawns and rows that analyze decodes by the million.
package intern

// MaxStrings bounds a table: past it, new strings are copied as they
// come rather than remembered, so that a run of a million distinct file
// names costs no table on top of the names themselves. The spawn rows'
// codec numbers strings up to the same bound on both sides.
const MaxStrings = 1 << 14

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
	if len(*in) < MaxStrings {
		(*in)[s] = s
	}
}
