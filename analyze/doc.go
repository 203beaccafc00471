// Package analyze is the stage between the tracer and the reports. Its
// sub-packages each hold one model:
//
//   - recording: what one run saw (Recording), the Recorder that builds it
//     while tracing, its file format (Save, Load) and the spill files that
//     keep its events on disk;
//   - spawn: one new process and what it cost (Spawn), and Build, the one
//     place that assembles spawns from a recording's events;
//   - summary: counts, costs per mechanism, the copy-cost fit, classes of
//     like spawns, and the findings (Summarize);
//   - compare: two recordings side by side, and what explains the
//     difference (Compare);
//   - fleet: many recordings of one workload, one per host: ranked,
//     grouped by what differs, and each outlier explained by compare;
//   - syscalls: a syscall's name as strace prints it, from the x86_64 or
//     the i386 table (tracer/sysno).
//
// All of it is pure Go: it needs no root and no kernel.
package analyze
