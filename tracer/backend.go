package tracer

// Backend names, as recordings, outputs and --backend give them.
const (
	// BackendBPF is this package's tracer; recordings that name no backend
	// were made with it.
	BackendBPF = "bpf"
	// BackendPtrace is tracer/ptrace's: ptrace stops at the spawn-related
	// calls a seccomp filter selects, for hosts where BPF cannot load.
	BackendPtrace = "ptrace"
)
