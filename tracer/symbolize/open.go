package symbolize

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// errNotRegular: a name that leads to a FIFO, a device or a directory,
// which the symbolizer never opens for reading.
var errNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading only when it leads to a regular file.
// The names it is given come from the traced programs (their libraries,
// interpreters, mapped files, debug links) and root opens them: a FIFO
// there would block open(2) for good, a device would be opened (a link to
// /dev/watchdog starts the watchdog). The name is resolved once, as an
// O_PATH handle, which opens nothing; the file is checked through it and
// then reopened through /proc/self/fd, which leads to that very inode,
// whatever the name leads to meanwhile.
func OpenRegular(path string) (*os.File, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		// No /proc here: open the name, without blocking, and keep it
		// only if it is still the file checked above.
		if fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0); err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		var now unix.Stat_t
		if err := unix.Fstat(fd, &now); err != nil || now.Dev != st.Dev || now.Ino != st.Ino {
			unix.Close(fd)
			return nil, &os.PathError{Op: "open", Path: path, Err: errNotRegular}
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}
