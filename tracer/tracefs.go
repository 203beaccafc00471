package tracer

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// tracefsDirs are where tracefs is usually mounted.
var tracefsDirs = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// tracepointIDs reads the perf ids of tracepoints (group/name each) from
// tracefs: where it is mounted, or else from an instance of spawntrace's
// own that is never mounted anywhere (fsopen, fsmount: nothing on the host
// changes).
func tracepointIDs(points []string) (map[string]uint64, error) {
	dir, err := openTracefs()
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	ids := map[string]uint64{}
	for _, p := range points {
		id, err := readTracepointID(dir, p)
		if err != nil {
			return nil, err
		}
		ids[p] = id
	}
	return ids, nil
}

func openTracefs() (int, error) {
	for _, d := range tracefsDirs {
		fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var st unix.Statfs_t
		if unix.Fstatfs(fd, &st) == nil && st.Type == unix.TRACEFS_MAGIC {
			return fd, nil
		}
		unix.Close(fd)
	}
	fs, err := unix.Fsopen("tracefs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("tracefs is not mounted and cannot be opened: %w", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("opening tracefs: %w", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening tracefs: %w", err)
	}
	return mnt, nil
}

func readTracepointID(dir int, point string) (uint64, error) {
	name := path.Join("events", point, "id")
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("tracepoint %s: %w", point, err)
	}
	defer unix.Close(fd)
	var buf [32]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return 0, fmt.Errorf("reading tracefs %s: %w", name, err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(buf[:max(n, 0)])), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("tracefs %s: %w", name, err)
	}
	return id, nil
}
