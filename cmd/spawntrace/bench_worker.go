package main

import (
	"context"
	"io"

	"github.com/spawntrace/spawntrace/cmd/internal/benchworker"
)

func runBenchWorker(_ context.Context, args []string, _, stderr io.Writer) int {
	var o benchOptions
	fs := newFlagSet("spawntrace "+benchworker.Command, stderr)
	o.register(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	p, err := o.params()
	if err != nil {
		return fail(stderr, exitUsage, "%s: %v", benchworker.Command, err)
	}
	if err := benchworker.Run(p, stderr); err != nil {
		return fail(stderr, exitFailure, "bench: %v", err)
	}
	return 0
}
