package symbolize

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ksym is one kernel text symbol.
type ksym struct {
	Addr   uint64
	Name   string
	Module string // "" for the kernel image; "bpf" for BPF programs
}

// kallsyms is the kernel's symbol table, sorted by address.
type kallsyms struct {
	syms        []ksym
	text, etext uint64 // _text and _etext: the kernel image's code
}

// parseKallsyms reads /proc/kallsyms ("ffffffff81000000 T _stext",
// "ffffffffc0a01000 t foo\t[module]"), keeping text symbols. All-zero
// addresses (kptr_restrict) give an empty table. The file has ~120k lines:
// it is read whole and cut in place, the names pointing into one string,
// several times faster than a scanner splitting each line into fields.
func parseKallsyms(r io.Reader) (*kallsyms, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading kallsyms: %w", err)
	}
	text := string(b)
	k := &kallsyms{syms: make([]ksym, 0, strings.Count(text, "\n"))}
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		// ADDR TYPE NAME, then a tab and [MODULE] for modules.
		sp := strings.IndexByte(line, ' ')
		if sp < 0 || len(line) < sp+4 || line[sp+2] != ' ' {
			continue
		}
		switch line[sp+1] {
		case 't', 'T', 'w', 'W':
		default:
			continue
		}
		addr, err := strconv.ParseUint(line[:sp], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("bad kallsyms line %q", line)
		}
		if addr == 0 {
			continue
		}
		s := ksym{Addr: addr, Name: line[sp+3:]}
		if name, mod, ok := strings.Cut(s.Name, "\t"); ok {
			s.Name, s.Module = name, strings.Trim(mod, "[]")
		}
		switch s.Name {
		case "_text":
			k.text = addr
		case "_etext":
			k.etext = addr
		}
		k.syms = append(k.syms, s)
	}
	sort.SliceStable(k.syms, func(i, j int) bool { return k.syms[i].Addr < k.syms[j].Addr })
	// Several names at one address (_stext, _text and the first function):
	// keep the one that names code, not a section marker.
	n := 0
	for i, s := range k.syms {
		if i > 0 && s.Addr == k.syms[n-1].Addr {
			if isMarker(k.syms[n-1].Name) && !isMarker(s.Name) {
				k.syms[n-1] = s
			}
			continue
		}
		k.syms[n] = s
		n++
	}
	k.syms = k.syms[:n]
	return k, nil
}

func isMarker(name string) bool {
	return strings.HasPrefix(name, "_text") || strings.HasPrefix(name, "_stext") ||
		strings.HasPrefix(name, "__pi_") || strings.HasPrefix(name, "__pfx_") ||
		strings.HasSuffix(name, "_start") || strings.HasSuffix(name, "_end")
}

// lookup names the symbol holding addr: the nearest one at or below it.
// Beyond the kernel image's text the nearest symbol may be far away, so
// there the distance is bounded.
func (k *kallsyms) lookup(addr uint64) (ksym, bool) {
	i := sort.Search(len(k.syms), func(i int) bool { return k.syms[i].Addr > addr }) - 1
	if i < 0 {
		return ksym{}, false
	}
	s := k.syms[i]
	inImage := k.text != 0 && addr >= k.text && addr < k.etext
	if !inImage && addr-s.Addr > 1<<20 {
		return ksym{}, false
	}
	return s, true
}
