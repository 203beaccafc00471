package compare

// Note IDs: what weakens a comparison or could not be compared. Stable,
// one per kind; reports word them (reports/compare_findings.go).
const (
	// NoteDifferentWorkloads: the sides ran different commands (their
	// Side.Command); compared per spawn, as far as that goes.
	NoteDifferentWorkloads = "different-workloads"
	NoteNoSpawns           = "no-spawns"          // Side has no spawns: host facts and per-run syscall totals only
	NoteSchemas            = "schema-versions"    // recordings of different schema versions (Schemas)
	NoteCopyUnmeasured     = "copy-unmeasured"    // Side's address-space copy was not measured
	NoteBlockedUnmeasured  = "blocked-unmeasured" // Side's blocked time was not measured
	// NotePtraceBackend: a side was recorded with the ptrace backend, which
	// counts no other syscalls than the spawn-related ones: the syscall
	// table covers those alone, on both sides.
	NotePtraceBackend = "ptrace-backend"
	// NoteSpawnsOnly: the same, for a side recorded with --spawns-only.
	NoteSpawnsOnly = "spawns-only"
)

// Note is one thing that weakens a comparison, with the facts its wording
// needs; reports word it.
type Note struct {
	ID string `json:"id"`
	// Side names the side a note is about, for a note about one side.
	Side    string       `json:"side,omitempty"`
	Schemas *SchemaFacts `json:"schemas,omitempty"`
}

// SchemaFacts are the two recordings' schema versions.
type SchemaFacts struct {
	A int `json:"a"`
	B int `json:"b"`
}
