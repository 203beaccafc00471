package main

import (
	"context"
	"io"

	"github.com/spawntrace/spawntrace/cmd/internal/benchworker"
)

// benchWorkerCmd is the hidden subcommand that runs the workload of
// `spawntrace bench` (package benchworker): bench re-executes this binary
// as it, under the tracer. It is not in the help.
const benchWorkerCmd = "__bench-worker"

func runBenchWorker(_ context.Context, args []string, _, stderr io.Writer) int {
	var o benchOptions
	fs := newFlagSet("spawntrace "+benchWorkerCmd, stderr)
	o.register(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	p, err := o.params()
	if err != nil {
		return fail(stderr, exitUsage, "%s: %v", benchWorkerCmd, err)
	}
	if err := benchworker.Run(p, stderr); err != nil {
		return fail(stderr, exitFailure, "bench: %v", err)
	}
	return 0
}
