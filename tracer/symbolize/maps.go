package symbolize

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spawntrace/spawntrace/tracer"
)

// procMapping is one line of /proc/PID/maps.
type procMapping struct {
	Start, End uint64
	Offset     uint64 // file offset of Start
	Exec       bool   // 'x' in the permissions
	Dev        uint64 // major<<32 | minor, 0 for anonymous memory
	Inode      uint64
	Path       string // "" for anonymous memory; "[vdso]", "[heap]"... for special ones
	Deleted    bool   // the file was unlinked after it was mapped
	// file is the mapped file with its version, once Symbolizer.mappedFile
	// has looked (zero until then): the line names only the inode.
	file tracer.FileID
}

// inode is the file the line names, without its version.
func (m *procMapping) inode() tracer.FileID {
	return tracer.FileID{Major: uint32(m.Dev >> 32), Minor: uint32(m.Dev), Ino: m.Inode}
}

// isFile tells a mapping backed by a regular file from anonymous and
// special ones ([vdso], [heap], [stack], memfd...).
func (m *procMapping) isFile() bool {
	return m.Inode != 0 && strings.HasPrefix(m.Path, "/")
}

// parseMaps reads the lines of /proc/PID/maps:
//
//	55a54c14c000-55a54c151000 r-xp 00002000 fe:00 247026   /usr/bin/cat
func parseMaps(r io.Reader) ([]procMapping, error) {
	var out []procMapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		m, err := parseMapsLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading maps: %w", err)
	}
	return out, nil
}

func parseMapsLine(line string) (procMapping, error) {
	var m procMapping
	bad := func() (procMapping, error) { return procMapping{}, fmt.Errorf("bad maps line %q", line) }
	// Five space-separated fields, then the path, which may hold spaces.
	rest := line
	var f [5]string
	for i := range f {
		rest = strings.TrimLeft(rest, " ")
		j := strings.IndexByte(rest, ' ')
		if j < 0 {
			if i < 4 {
				return bad()
			}
			j = len(rest)
		}
		f[i], rest = rest[:j], rest[j:]
	}
	m.Path = strings.TrimLeft(rest, " ")
	if p, ok := strings.CutSuffix(m.Path, " (deleted)"); ok {
		m.Path, m.Deleted = p, true
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return bad()
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return bad()
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil || m.End < m.Start {
		return bad()
	}
	if len(f[1]) < 4 {
		return bad()
	}
	m.Exec = f[1][2] == 'x'
	if m.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
		return bad()
	}
	maj, min, ok := strings.Cut(f[3], ":")
	if !ok {
		return bad()
	}
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	if err1 != nil || err2 != nil {
		return bad()
	}
	m.Dev = ma<<32 | mi
	if m.Inode, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return bad()
	}
	return m, nil
}

// findMapping returns the mapping holding addr; maps is sorted by address,
// as the kernel lists it.
func findMapping(maps []procMapping, addr uint64) *procMapping {
	lo, hi := 0, len(maps)
	for lo < hi {
		mid := (lo + hi) / 2
		if maps[mid].End <= addr {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(maps) && maps[lo].Start <= addr {
		return &maps[lo]
	}
	return nil
}
