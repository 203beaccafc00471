package reports

import (
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// probeFeeds says, for each optional probe, what goes unmeasured without it:
// an unavailable probe must leave a gap that is named, never zeros.
var probeFeeds = map[string]string{
	tracer.SyscallsProbe: "the syscall table (calls, errors and times of every syscall) and the spawn, " +
		"exec and socketpair calls (the spawn section and event lines)",
	tracer.ExecProbe:    "the file names, argv and environment of successful execs",
	tracer.CopyProbe:    "the address-space copy and exec teardown times",
	tracer.BlockedProbe: "the time spawning threads were blocked (off CPU)",
	// Older recordings: spawntrace attached a perf-event tracepoint pair
	// per spawn-related syscall before one raw pair carried them all.
	"syscalls:clone":      "spawns made with clone (missing from the spawn section and event lines)",
	"syscalls:clone3":     "spawns made with clone3 (missing from the spawn section and event lines)",
	"syscalls:fork":       "spawns made with fork (missing from the spawn section and event lines)",
	"syscalls:vfork":      "spawns made with vfork (missing from the spawn section and event lines)",
	"syscalls:execve":     "execve calls (execs, failed execs and PATH searches in the spawn section)",
	"syscalls:execveat":   "execveat calls (execs, failed execs and PATH searches in the spawn section)",
	"syscalls:socketpair": "socketpair calls (and Rust's fork-fallback signature)",
	tracer.SamplingProbe:  "the CPU profile",
	tracer.BPFLoopProbe:   "the argv and environment count of failed execs (PATH searches): their event lines show addresses",
}

// ProbeFeeds says what goes unmeasured without the named probe ("" for
// the required ones, without which nothing is recorded).
func ProbeFeeds(name string) string { return probeFeeds[name] }

// probeUnavailable reports whether rec lists the named probe as not used.
func probeUnavailable(rec *recording.Recording, name string) bool {
	for _, p := range rec.Probes {
		if p.Name == name {
			return !p.Available
		}
	}
	return false
}
