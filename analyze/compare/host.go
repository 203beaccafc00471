package compare

import (
	"fmt"
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
	// Differs is set when both are known and not equal.
	Differs bool `json:"differs,omitempty"`
}

func itoa(n int) string { return strconv.Itoa(n) }

// sizeText is "1.0 GiB", "24 MiB", "12.5 KiB" or "800 B".
func sizeText(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

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
// those that identify the recordings.
func hostRows(a, b *recording.Recording) []HostRow {
	type fact struct {
		name string
		get  func(*recording.Recording) string
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
			return sizeText(r.Host.MemBytes)
		}},
		{"page size", func(r *recording.Recording) string {
			if r.Host.PageBytes == 0 {
				return ""
			}
			return sizeText(uint64(r.Host.PageBytes))
		}},
		{"transparent huge pages", func(r *recording.Recording) string { return r.Host.THPMode }},
		{"libc", func(r *recording.Recording) string { return r.Host.Libc.String() }},
		{"workload environment", func(r *recording.Recording) string {
			if r.Host.Env == nil {
				return ""
			}
			return fmt.Sprintf("%d vars, %s", r.Host.Env.Vars, sizeText(uint64(r.Host.Env.Bytes)))
		}},
		{"PATH entries", func(r *recording.Recording) string {
			switch {
			case r.Host.Env == nil:
				return ""
			case !r.Host.Env.PathSet:
				return "unset"
			}
			return itoa(r.Host.Env.PathEntries)
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
		r := HostRow{Fact: f.name, A: f.get(a), B: f.get(b)}
		r.Differs = r.A != "" && r.B != "" && r.A != r.B
		rows = append(rows, r)
	}
	return rows
}
