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
//
// The reader's tick is a periodic timerfd beside the ring in an epoll
// set of its own, the one descriptor the netpoller waits on, rather than
// a read deadline: a Go timer woke the netpoller's thread twice per tick
// (it waits in whole milliseconds, rounded down) and sysmon twice more
// (it sleeps until the next timer), ~300 µs of CPU per tick on an idle
// run.
type ring struct {
	// file is an epoll set holding the map's descriptor (a duplicate,
	// ringFd) and tick, in the netpoller: its read deadline wakes the
	// reader at once (Flush, Close).
	file   *os.File
	raw    syscall.RawConn
	ringFd int
	tick   int           // the timerfd
	every  time.Duration // its period, once armed

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
	r := &ring{ringFd: fd, tick: -1, mask: uint64(size - 1)}
	if err := r.pollSet(); err != nil {
		r.closeFds()
		return nil, fmt.Errorf("polling ring buffer: %w", err)
	}
	if r.cons, err = unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		r.closeFds()
		return nil, fmt.Errorf("mapping ring buffer consumer page: %w", err)
	}
	if r.prod, err = unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		unix.Munmap(r.cons)
		r.closeFds()
		return nil, fmt.Errorf("mapping ring buffer data pages: %w", err)
	}
	r.data = r.prod[page:]
	return r, nil
}

// pollSet makes the timerfd and the epoll set of it and the ring, and
// hands the set to the netpoller.
func (r *ring) pollSet() error {
	var err error
	if r.tick, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		return fmt.Errorf("timerfd: %w", err)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	// Non-blocking before os.NewFile, which then hands it to the netpoller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return err
	}
	r.file = os.NewFile(uintptr(epfd), "ring buffer")
	for _, fd := range []int{r.ringFd, r.tick} {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll: %w", err)
		}
	}
	if r.raw, err = r.file.SyscallConn(); err != nil {
		return err
	}
	// A descriptor the netpoller could not take has no deadlines.
	return r.file.SetReadDeadline(time.Time{})
}

// closeFds closes the descriptors newRing made.
func (r *ring) closeFds() error {
	var errs []error
	if r.file != nil {
		errs = append(errs, r.file.Close())
	}
	if r.tick >= 0 {
		errs = append(errs, unix.Close(r.tick))
	}
	return errors.Join(append(errs, unix.Close(r.ringFd))...)
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
// reader), at the next tick (every d), or at once after Flush or Close.
func (r *ring) wait(d time.Duration) {
	r.mu.Lock()
	if r.flushed || r.closed {
		r.mu.Unlock()
		return
	}
	if r.every != d {
		// Periodic: arming it per wait would be a syscall per tick.
		t := unix.NsecToTimespec(int64(d))
		if err := unix.TimerfdSettime(r.tick, 0, &unix.ItimerSpec{Interval: t, Value: t}, nil); err != nil {
			// No tick: wait d by the deadline instead.
			r.file.SetReadDeadline(time.Now().Add(d))
		} else {
			r.every = d
		}
	}
	r.mu.Unlock()
	// Read clears the netpoller's readiness before its first call of the
	// function, so a tick or wake-up between the last drain and here is
	// checked on the first call: a tick the timerfd holds, records in the
	// ring, end the wait at once. After the first call, a wake-up, a
	// tick, or Flush or Close ends it, and the caller drains again. Each
	// call takes the tick the timerfd holds, so that the next one makes
	// the set readable anew. Close waits for Read to return before it
	// unmaps.
	first := true
	r.raw.Read(func(uintptr) bool {
		ticked := r.takeTick()
		if !first {
			return true
		}
		first = false
		return ticked || atomic.LoadUint64(r.prodPos()) != atomic.LoadUint64(r.consPos())
	})
}

// takeTick reads the timerfd's count of ticks: whether one came. A raw
// syscall: it does not block (TFD_NONBLOCK), and an ordinary one would
// wake sysmon.
func (r *ring) takeTick() bool {
	var n uint64
	_, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(r.tick), uintptr(unsafe.Pointer(&n)), 8)
	return errno == 0 && n > 0
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
	// Closing the set returns once a wait on it has ended.
	err := r.closeFds()
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(err, unix.Munmap(r.prod), unix.Munmap(r.cons))
}

// ringOpening is a reader being opened on a premade ring buffer, off
// Open's path: the two mappings of the ring take ~2 ms, and the map itself
// (3-9 ms to make) may not be made yet when Open has read the object.
type ringOpening struct {
	done   chan struct{}
	m      *ebpf.Map // a clone of the premade map, the reader's
	reader *ring
	err    error
	taken  bool
}

// openReader opens a reader on premade's events map, once it is made.
func openReader(premade *premadeMaps) *ringOpening {
	o := &ringOpening{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		m := premade.wait()["events"]
		if m == nil {
			return // the load makes it, and Open opens the reader then
		}
		if o.m, o.err = m.Clone(); o.err != nil {
			return
		}
		o.reader, o.err = newRing(o.m)
	}()
	return o
}

// take waits for the reader and hands it over with its map; both nil
// when the ring was not made beforehand.
func (o *ringOpening) take() (*ebpf.Map, *ring, error) {
	<-o.done
	o.taken = true
	if o.err != nil {
		o.discard()
		return nil, nil, fmt.Errorf("opening ring buffer: %w", o.err)
	}
	return o.m, o.reader, nil
}

// discard closes what was opened and not taken.
func (o *ringOpening) discard() {
	<-o.done
	if o.taken && o.err == nil {
		return
	}
	if o.reader != nil {
		o.reader.close()
	}
	if o.m != nil {
		o.m.Close()
	}
}
