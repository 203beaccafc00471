package tracer

// The BPF programs live in ../bpf; the generated loader and object are
// committed so that `go build` needs no clang. `make generate` reruns this.
//go:generate go tool bpf2go -tags linux -target amd64 -type event_hdr -type exec_strings -type syscall_event -type syscall_exec_event -type syscall_spawn_event -type fork_event -type exec_event -type exit_event -type syscall_stat -type clone3_args -type sample -type event_kind -type event_flag -type sample_flag -type stack_copy -type stack_copy_flag -type lost_kind -type seen_kind -type socketcall_pseudo spawntrace ../bpf/spawntrace.bpf.c -- -I../bpf -I/usr/include/x86_64-linux-gnu -O2 -Wall
