package analyze

// maxInterned bounds an interner: past it, new strings are copied as they
// come rather than remembered, so that a run of a million distinct file
// names costs no table on top of the names themselves.
const maxInterned = 1 << 14

// interner shares one copy of each repeated string (comm, exe, signature):
// without it each of a million spawns would hold copies of the same few.
type interner map[string]string

// bytes returns b as a string, the interned copy when there is one.
func (in *interner) bytes(b []byte) string {
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

// string returns s's interned copy, or s, now remembered.
func (in *interner) string(s string) string {
	if s == "" {
		return ""
	}
	if t, ok := (*in)[s]; ok {
		return t
	}
	in.keep(s)
	return s
}

func (in *interner) keep(s string) {
	if *in == nil {
		*in = map[string]string{}
	}
	if len(*in) < maxInterned {
		(*in)[s] = s
	}
}
