package tracer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ring reads the events ring buffer (BPF_MAP_TYPE_RINGBUF) in place and
// waits for it in Go's netpoller, where ringbuf.Reader waits in a blocking
// epoll_wait: every blocking syscall of an otherwise idle Go process wakes
// the runtime's sysmon thread, which then polls every 20 µs for a
// millisecond or more, and retakes the waiting P 10 ms later, which starts
// that again. For a reader that waits every few tens of milliseconds that
// was most of spawntrace's own CPU per spawn.
type ring struct {
	// file is a duplicate of the map's descriptor, in the netpoller: its
	// read deadline bounds a wait and wakes the reader (Flush, Close).
	file *os.File
	raw  syscall.RawConn

	// mu guards the mapping and the flags; the reader holds it while it
	// reads records, never while it waits.
	mu      sync.Mutex
	cons    []byte // the consumer page, read-write
	prod    []byte // the producer page, then the data pages mapped twice
	data    []byte // prod's data pages: a record that wraps reads on past the end
	mask    uint64
	flushed bool // Flush was called: drain, then return
	closed  bool
}

// Ring record header (linux/bpf.h): the length, with two flag bits.
const (
	ringHeaderBytes = 8
	ringBusyBit     = 1 << 31
	ringDiscardBit  = 1 << 30
)

var errRingClosed = errors.New("ring buffer closed")

func newRing(m *ebpf.Map) (*ring, error) {
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	fd, err := unix.FcntlInt(uintptr(m.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicating ring buffer descriptor: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ring buffer descriptor: %w", err)
	}
	r := &ring{file: os.NewFile(uintptr(fd), "ring buffer"), mask: uint64(size - 1)}
	if r.raw, err = r.file.SyscallConn(); err != nil {
		r.file.Close()
		return nil, fmt.Errorf("ring buffer descriptor: %w", err)
	}
	// A descriptor the netpoller could not take has no deadlines.
	if err := r.file.SetReadDeadline(time.Time{}); err != nil {
		r.file.Close()
		return nil, fmt.Errorf("polling ring buffer: %w", err)
	}
	if r.cons, err = unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		r.file.Close()
		return nil, fmt.Errorf("mapping ring buffer consumer page: %w", err)
	}
	if r.prod, err = unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		unix.Munmap(r.cons)
		r.file.Close()
		return nil, fmt.Errorf("mapping ring buffer data pages: %w", err)
	}
	r.data = r.prod[page:]
	return r, nil
}

func (r *ring) consPos() *uint64 { return (*uint64)(unsafe.Pointer(&r.cons[0])) }
func (r *ring) prodPos() *uint64 { return (*uint64)(unsafe.Pointer(&r.prod[0])) }

// drain hands every committed record to fn, in place (b is overwritten once
// fn returns); it returns how many, and whether the reader is to stop:
// Flush was called before it began (everything submitted before Flush is
// read), or Close.
func (r *ring) drain(fn func(b []byte) error) (n int, stop bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, true, nil
	}
	stop = r.flushed
	cons := atomic.LoadUint64(r.consPos())
	for spins := 0; ; {
		prod := atomic.LoadUint64(r.prodPos())
		if cons == prod {
			return n, stop, nil
		}
		if prod-cons < ringHeaderBytes {
			return n, true, fmt.Errorf("reading ring buffer: short record header")
		}
		// An atomic load of the length orders it after the kernel's
		// commit (an xchg): without the busy bit, the record is written.
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[cons&r.mask])))
		if hdr&ringBusyBit != 0 {
			// Reserved, not yet committed: the program commits within
			// microseconds, unless it was preempted meanwhile.
			if spins++; spins < 1000 {
				runtime.Gosched()
			} else {
				time.Sleep(10 * time.Microsecond)
			}
			continue
		}
		spins = 0
		size := uint64(hdr &^ (ringBusyBit | ringDiscardBit))
		start := (cons + ringHeaderBytes) & r.mask
		next := cons + ringHeaderBytes + (size+7)&^7
		if next-cons > prod-cons {
			return n, true, fmt.Errorf("reading ring buffer: record of %d bytes past the producer", size)
		}
		var ferr error
		if hdr&ringDiscardBit == 0 {
			ferr = fn(r.data[start : start+size : start+size])
			n++
		}
		cons = next
		atomic.StoreUint64(r.consPos(), cons)
		if ferr != nil {
			return n, true, ferr
		}
	}
}

// wait returns when the ring may hold records (the kernel woke the
// reader), after d, or at once after Flush or Close.
func (r *ring) wait(d time.Duration) {
	r.mu.Lock()
	if r.flushed || r.closed {
		r.mu.Unlock()
		return
	}
	r.file.SetReadDeadline(time.Now().Add(d))
	r.mu.Unlock()
	// Read clears the netpoller's readiness before its first call of the
	// function, so a wake-up between the last drain and here is checked
	// in the ring itself: records there end the wait at once. After the
	// first call, a wake-up, d, or Flush or Close ends it, and the caller
	// drains again. Close waits for Read to return before it unmaps.
	first := true
	r.raw.Read(func(uintptr) bool {
		if !first {
			return true
		}
		first = false
		return atomic.LoadUint64(r.prodPos()) != atomic.LoadUint64(r.consPos())
	})
}

// flush makes the reader stop once it has read what is in the ring now.
func (r *ring) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errRingClosed
	}
	r.flushed = true
	return r.file.SetReadDeadline(time.Unix(1, 0))
}

// close stops the reader, then unmaps the ring.
func (r *ring) close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	// Close returns once a wait on the descriptor has ended.
	err := r.file.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(err, unix.Munmap(r.prod), unix.Munmap(r.cons))
}
