package symbolize

import (
	"debug/elf"
	"io"
	"regexp"
	"strings"
)

// rustStdProcess matches the source path of Rust std's process spawning
// code, which its panic locations keep in every program that links it
// (stripped or not, whatever the rustc): library/std/src/sys/unix/process/
// in 1.63, library/std/src/sys/process/unix/ in 1.95. C programs have no
// such string; a Rust program that never spawns has no such code.
var rustStdProcess = regexp.MustCompile(`library/std/src/sys/[a-z0-9_/]*process`)

// maxRustScanBytes bounds how much of a program's read-only data is read
// to tell it is Rust: std's strings come early in it, and a program with
// more than this (a large C++ binary) is read no further.
const maxRustScanBytes = 64 << 20

// RustProgram says whether the ELF program r is a Rust program whose std
// spawns processes (Rust's Command): its read-only data holds std's
// process source path. Anything unreadable or not ELF is not.
func RustProgram(r io.ReaderAt) bool {
	f, err := elf.NewFile(r)
	if err != nil {
		return false
	}
	left := int64(maxRustScanBytes)
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_ALLOC == 0 || s.Flags&(elf.SHF_EXECINSTR|elf.SHF_WRITE) != 0 ||
			!strings.HasPrefix(s.Name, ".rodata") {
			continue
		}
		n := min(int64(s.Size), left)
		if n <= 0 {
			break
		}
		left -= n
		b := make([]byte, n)
		if _, err := s.ReadAt(b, 0); err != nil && err != io.EOF {
			return false
		}
		if rustStdProcess.Match(b) {
			return true
		}
	}
	return false
}
