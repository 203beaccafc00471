package compare

import (
	"math"
	"strconv"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
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

func probeText(rec *recording.Recording, name, yes string) string {
	ok, known := probeAvailable(rec, name)
	switch {
	case !known:
		return ""
	case ok:
		return yes
	}
	return "not measured"
}

// hostRows lists the facts that make two hosts spawn differently, then
// those that identify the recordings. The workload's environment is as its
// children's successful execs saw it (medians).
func hostRows(sa, sb *Side) []HostRow {
	a, b := sa.rec, sb.rec
	type fact struct {
		name string
		get  func(*recording.Recording) string
	}
	units := map[string]string{"memory": UnitBytes, "page size": UnitBytes, "environment size": UnitBytes}
	side := func(r *recording.Recording) *Side {
		if r == a {
			return sa
		}
		return sb
	}
	facts := []fact{
		{"hostname", func(r *recording.Recording) string { return r.Host.Hostname }},
		{"kernel", func(r *recording.Recording) string { return r.Host.KernelRelease }},
		{"distribution", func(r *recording.Recording) string { return r.Host.Distro }},
		{"virtualization", func(r *recording.Recording) string { return r.Host.Virtualization }},
		{"CPU", func(r *recording.Recording) string {
			if r.Host.Machine == "" {
				return r.Host.CPUModel
			}
			if r.Host.CPUModel == "" {
				return r.Host.Machine
			}
			return r.Host.CPUModel + " (" + r.Host.Machine + ")"
		}},
		{"CPUs", func(r *recording.Recording) string {
			if r.Host.CPUs == 0 {
				return ""
			}
			return itoa(r.Host.CPUs)
		}},
		{"memory", func(r *recording.Recording) string {
			if r.Host.MemBytes == 0 {
				return ""
			}
			return utoa(r.Host.MemBytes)
		}},
		{"page size", func(r *recording.Recording) string {
			if r.Host.PageBytes == 0 {
				return ""
			}
			return itoa(r.Host.PageBytes)
		}},
		{"transparent huge pages", func(r *recording.Recording) string { return r.Host.THPMode }},
		{"libc", func(r *recording.Recording) string { return r.Host.Libc.String() }},
		{"environment variables", func(r *recording.Recording) string {
			if s := side(r); s.ExecSpawns > 0 {
				return itoa(s.EnvCount)
			}
			return ""
		}},
		{"environment size", func(r *recording.Recording) string {
			if s := side(r); s.ExecSpawns > 0 {
				return itoa(s.EnvBytes)
			}
			return ""
		}},
		{"PATH entries", func(r *recording.Recording) string {
			s := side(r)
			switch {
			case s.ExecSpawns == 0:
				return ""
			case s.PathEntries == 0:
				return NotRecorded
			case s.PathEntries < 0:
				return Unset
			}
			return itoa(s.PathEntries)
		}},
		{"BTF", func(r *recording.Recording) string {
			return featureText(r.Host.Features, func(f *tracer.Features) tracer.Feature { return f.BTF })
		}},
		{"syscall tracepoints", func(r *recording.Recording) string {
			return featureText(r.Host.Features, func(f *tracer.Features) tracer.Feature { return f.SyscallTracepoints })
		}},
		{"mmap_lock tracepoints", func(r *recording.Recording) string {
			return featureText(r.Host.Features, func(f *tracer.Features) tracer.Feature { return f.MmapLockTracepoints })
		}},
		{"fentry", func(r *recording.Recording) string {
			return featureText(r.Host.Features, func(f *tracer.Features) tracer.Feature { return f.Fentry })
		}},
		{"kprobes", func(r *recording.Recording) string {
			return featureText(r.Host.Features, func(f *tracer.Features) tracer.Feature { return f.Kprobes })
		}},
		{"tracer backend", func(r *recording.Recording) string { return r.BackendName() }},
		{"copy timed by", func(r *recording.Recording) string { return probeText(r, tracer.CopyProbe, "mmap write lock") }},
		{"blocked time", func(r *recording.Recording) string { return probeText(r, tracer.BlockedProbe, "sched_switch") }},
		{"spawntrace", func(r *recording.Recording) string {
			if r.Version == "" {
				return ""
			}
			return r.Version + " (schema " + itoa(r.Schema) + ")"
		}},
		{"recorded", func(r *recording.Recording) string {
			if r.StartUnixNs == 0 {
				return ""
			}
			return time.Unix(0, r.StartUnixNs).UTC().Format("2006-01-02 15:04 UTC")
		}},
	}
	rows := make([]HostRow, 0, len(facts))
	for _, f := range facts {
		r := HostRow{Fact: f.name, A: f.get(a), B: f.get(b), Unit: units[f.name]}
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
