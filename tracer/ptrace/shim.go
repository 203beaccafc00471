package ptrace

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ShimCommand is the hidden spawntrace command the tracer starts the
// workload through: Go runs no code of ours between fork and exec, so the
// child re-executes spawntrace to wait until it is seized, install the
// seccomp filter, drop to the -u user and exec the workload.
const ShimCommand = "__ptrace-shim"

// The shim's descriptors beyond stdin, stdout and stderr.
const (
	shimGoFd  = 3 // closed by the tracer once it has seized the shim
	shimErrFd = 4 // the shim's failure, as text; closed by a successful exec
)

// LockShimThread keeps the shim's main goroutine on the main thread, the
// one the tracer seizes (its tid is the pid): called from an init function
// of the main package when the command is ShimCommand, before any other
// goroutine runs.
func LockShimThread() { runtime.LockOSThread() }

// shimArgs is the shim's command line: the credential ("-" for none) as
// uid:gid:group,group, the workload's path, then its argv.
func shimArgs(path string, argv []string, cred *syscall.Credential) []string {
	c := "-"
	if cred != nil {
		groups := make([]string, len(cred.Groups))
		for i, g := range cred.Groups {
			groups[i] = strconv.FormatUint(uint64(g), 10)
		}
		c = fmt.Sprintf("%d:%d:%s", cred.Uid, cred.Gid, strings.Join(groups, ","))
	}
	return append([]string{"spawntrace", ShimCommand, c, path}, argv...)
}

// RunShim is the shim (args follow ShimCommand on its command line). It
// returns only on failure, which it has also written to the tracer.
func RunShim(args []string) error {
	err := shim(args)
	if err != nil {
		fmt.Fprintf(os.NewFile(shimErrFd, "shim-err"), "%v", err)
	}
	return err
}

func shim(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("%s: want CRED PATH ARGV0 [ARGS...]", ShimCommand)
	}
	cred, err := parseCred(args[0])
	if err != nil {
		return err
	}
	path, argv := args[1], args[2:]
	// Wait until the tracer holds us: a filtered call made untraced would
	// fail with ENOSYS.
	var b [1]byte
	for {
		_, err := unix.Read(shimGoFd, b[:])
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(shimGoFd)
	unix.CloseOnExec(shimErrFd)
	nnp, err := InstallFilter()
	if err != nil {
		return err
	}
	if nnp {
		fmt.Fprintln(os.Stderr, "spawntrace: ptrace backend without CAP_SYS_ADMIN: no_new_privs is set for the seccomp filter, so setuid programs of the workload run without their privileges")
	}
	if cred != nil {
		// Go applies these to every thread of the process.
		groups := make([]int, len(cred.Groups))
		for i, g := range cred.Groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(int(cred.Gid)); err != nil {
			return fmt.Errorf("setgid %d: %w", cred.Gid, err)
		}
		if err := syscall.Setuid(int(cred.Uid)); err != nil {
			return fmt.Errorf("setuid %d: %w", cred.Uid, err)
		}
	}
	err = syscall.Exec(path, argv, os.Environ())
	return fmt.Errorf("starting %s: %w", argv[0], err)
}

func parseCred(s string) (*syscall.Credential, error) {
	if s == "-" {
		return nil, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%s: bad credential %q", ShimCommand, s)
	}
	uid, err1 := strconv.ParseUint(parts[0], 10, 32)
	gid, err2 := strconv.ParseUint(parts[1], 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%s: bad credential %q", ShimCommand, s)
	}
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	if parts[2] != "" {
		for _, g := range strings.Split(parts[2], ",") {
			n, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s: bad credential %q", ShimCommand, s)
			}
			c.Groups = append(c.Groups, uint32(n))
		}
	}
	return c, nil
}
