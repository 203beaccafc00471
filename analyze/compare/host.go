package compare

import (
	"math"
	"strconv"
	"time"

	"github.com/spawntrace/spawntrace/tracer"
)

// HostRow is one host fact on each side. An empty value is unknown (an
// older recording, or unreadable where it was made).
type HostRow struct {
	Fact string `json:"fact"`
	A    string `json:"a"`
	B    string `json:"b"`
	// Unit says how to read A and B: as text when empty; UnitBytes: a
	// count of bytes.
	Unit string `json:"unit,omitempty"`
	// Differs is set when both are known and not equal (sizes: by more
	// than 1%).
	Differs bool `json:"differs,omitempty"`
}

// UnitBytes marks a host row whose values are byte counts.
const UnitBytes = "bytes"

// Values of host rows that are not measures.
const (
	NotRecorded = "not recorded" // a fact this side's recording predates
	Unset       = "unset"        // PATH is not in the environment
)

func itoa(n int) string { return strconv.Itoa(n) }

func utoa(n uint64) string { return strconv.FormatUint(n, 10) }

func featureText(f *tracer.Features, pick func(*tracer.Features) tracer.Feature) string {
	if f == nil {
		return ""
	}
	if pick(f).Available {
		return "yes"
	}
	return "no"
}

func probeText(s *Side, name, yes string) string {
	ok, known := s.probeAvailable(name)
	switch {
	case !known:
		return ""
	case ok:
		return yes
	}
	return "not measured"
}

// Fact is one host fact of one side: Value "" is unknown.
type Fact struct {
	Name  string
	Value string
	// Unit says how to read Value (HostRow.Unit).
	Unit string
}

// Host fact names that findings and fleets pick rows by.
const (
	FactHostname       = "hostname"
	FactKernel         = "kernel"
	FactVirtualization = "virtualization"
	FactCPU            = "CPU"
	FactTHP            = "transparent huge pages"
	FactLibc           = "libc"
	FactEnvVars        = "environment variables"
	FactEnvSize        = "environment size"
	FactPathEntries    = "PATH entries"
)

// Facts lists the facts that make hosts spawn differently, then those that
// identify the recording. The workload's environment is as its children's
// successful execs saw it (medians).
func (s *Side) Facts() []Fact {
	h := &s.head.host
	units := map[string]string{"memory": UnitBytes, "page size": UnitBytes, FactEnvSize: UnitBytes}
	fact := func(name, v string) Fact { return Fact{Name: name, Value: v, Unit: units[name]} }
	feature := func(pick func(*tracer.Features) tracer.Feature) string { return featureText(h.Features, pick) }
	cpu := h.CPUModel
	switch {
	case h.Machine == "":
	case cpu == "":
		cpu = h.Machine
	default:
		cpu += " (" + h.Machine + ")"
	}
	nonZero := func(n uint64) string {
		if n == 0 {
			return ""
		}
		return utoa(n)
	}
	execs := func(v string) string {
		if s.ExecSpawns == 0 {
			return ""
		}
		return v
	}
	path := itoa(s.PathEntries)
	switch {
	case s.PathEntries == 0:
		path = NotRecorded
	case s.PathEntries < 0:
		path = Unset
	}
	version, recorded := "", ""
	if s.head.version != "" {
		version = s.head.version + " (schema " + itoa(s.head.schema) + ")"
	}
	if s.head.startUnixNs != 0 {
		recorded = time.Unix(0, s.head.startUnixNs).UTC().Format("2006-01-02 15:04 UTC")
	}
	return []Fact{
		fact(FactHostname, h.Hostname),
		fact(FactKernel, h.KernelRelease),
		fact("distribution", h.Distro),
		fact(FactVirtualization, h.Virtualization),
		fact(FactCPU, cpu),
		fact("CPUs", nonZero(uint64(max(h.CPUs, 0)))),
		fact("memory", nonZero(h.MemBytes)),
		fact("page size", nonZero(uint64(max(h.PageBytes, 0)))),
		fact(FactTHP, h.THPMode),
		fact(FactLibc, h.Libc.String()),
		fact(FactEnvVars, execs(itoa(s.EnvCount))),
		fact(FactEnvSize, execs(itoa(s.EnvBytes))),
		fact(FactPathEntries, execs(path)),
		fact("BTF", feature(func(f *tracer.Features) tracer.Feature { return f.BTF })),
		fact("syscall tracepoints", feature(func(f *tracer.Features) tracer.Feature { return f.SyscallTracepoints })),
		fact("mmap_lock tracepoints", feature(func(f *tracer.Features) tracer.Feature { return f.MmapLockTracepoints })),
		fact("fentry", feature(func(f *tracer.Features) tracer.Feature { return f.Fentry })),
		fact("kprobes", feature(func(f *tracer.Features) tracer.Feature { return f.Kprobes })),
		fact("tracer backend", s.head.backend),
		fact("copy timed by", probeText(s, tracer.CopyProbe, "mmap write lock")),
		fact("blocked time", probeText(s, tracer.BlockedProbe, "sched_switch")),
		fact("spawntrace", version),
		fact("recorded", recorded),
	}
}

// hostRows lists the two sides' facts side by side.
func hostRows(sa, sb *Side) []HostRow {
	fa, fb := sa.Facts(), sb.Facts()
	rows := make([]HostRow, 0, len(fa))
	for i, f := range fa {
		r := HostRow{Fact: f.Name, A: f.Value, B: fb[i].Value, Unit: f.Unit}
		r.Differs = differs(r)
		rows = append(rows, r)
	}
	return rows
}

// differs says whether two known values of a row differ: sizes by more
// than 1% (two hosts' "32 GiB" are rarely the same count of bytes).
func differs(r HostRow) bool {
	if r.A == "" || r.B == "" || r.A == r.B {
		return false
	}
	if r.Unit == UnitBytes {
		x, errA := strconv.ParseFloat(r.A, 64)
		y, errB := strconv.ParseFloat(r.B, 64)
		if errA == nil && errB == nil {
			return math.Abs(x-y) > 0.01*math.Max(x, y)
		}
	}
	return true
}
