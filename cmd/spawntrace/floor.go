package main

import (
	"context"
	"errors"
	"github.com/spawntrace/spawntrace/cmd/internal/benchworker"
	"io"
	"os"
	"os/exec"

	"github.com/spawntrace/spawntrace/cmd/internal/live"
	"github.com/spawntrace/spawntrace/tracer"
)

func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return fail(stderr, exitUsage, "usage: spawntrace %s -- CMD [ARGS...]", benchworker.FloorCommand)
	}
	if code, ok := checkCaps(stderr); !ok {
		return code
	}
	f, err := tracer.OpenFloor()
	if err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return live.ExitStatus(ee.ProcessState, err)
	}
	if err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	return 0
}
