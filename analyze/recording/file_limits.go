package recording

import (
	"errors"
	"fmt"
	"io"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// A recording is hostile input: report and compare may run as root on a
// file from anywhere. Whatever it holds, reading and reporting it take
// time linear in its size and memory within MemoryLimitText per recording
// (compare reads two); a file that
// would need more is refused in one line (LimitError) naming the limit.
// The limits are far above what spawntrace itself writes: the kernel side
// follows at most 65 536 processes at once, an event is under 2 KiB, and
// the parts other than the events grow with distinct stacks, files and
// spawning processes (a few MiB for a 200 000-spawn build). A pass over
// the events holds at most ReorderWindowBytes of them, however large each.
const (
	// MaxHeadBytes bounds the recording's JSON other than its events
	// (host facts, syscall table, probes, stacks, mappings, CPU samples,
	// spawners, and any key this version does not know), together.
	MaxHeadBytes = 64 << 20
	// MaxEventBytes bounds the JSON of one event, and of one key.
	MaxEventBytes = 1 << 20
	// MaxLiveTasks bounds the processes alive at once (spawned, not
	// exited) plus the threads that spawned and have not exited: the
	// summary and compare keep each one's spawn open until it exits.
	MaxLiveTasks = 1 << 18
	// maxStackID bounds an event's stack id: MaxHeadBytes holds fewer
	// stacks than this, so a larger id is out of range whatever follows.
	maxStackID = 1 << 21

	// MemoryLimitText is the memory report and compare stay within per
	// recording read, as README and the refusals state it: their peak RSS
	// for a recording at every limit above, rounded up.
	MemoryLimitText = "about 600 MiB"
)

// LimitError refuses a recording that would need more than a stated limit.
type LimitError struct {
	What string // "more than 262144 processes alive at once"
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("recording refused: %s (spawntrace reads a recording within %s of memory: "+
		"at most %d MiB besides the events, %d KiB per event, %d processes and spawning threads alive at once)",
		e.What, MemoryLimitText, MaxHeadBytes>>20, MaxEventBytes>>10, MaxLiveTasks)
}

// squashSpace passes JSON through with every run of white space outside a
// string cut to its first byte. encoding/json's Decoder keeps the white
// space before a token in its buffer and scans it again at each refill:
// quadratic in the run's length. Cut, a run costs one pass.
type squashSpace struct {
	r        io.Reader
	inString bool
	escaped  bool // the byte before, in a string, was a backslash
	space    bool // the byte before, outside a string, was white space
}

func (s *squashSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		out := 0
		for i := 0; i < n; i++ {
			c := p[i]
			switch {
			case s.inString:
				switch {
				case s.escaped:
					s.escaped = false
				case c == '\\':
					s.escaped = true
				case c == '"':
					s.inString = false
				}
			case c == ' ' || c == '\n' || c == '\t' || c == '\r':
				if s.space {
					continue
				}
				s.space = true
				p[out] = c
				out++
				continue
			case c == '"':
				s.inString = true
			}
			s.space = false
			p[out] = c
			out++
		}
		if out > 0 || err != nil || n == 0 {
			return out, err
		}
	}
}

// budget fails reading past a stop set before each part of the JSON is
// decoded: json.Decoder buffers a whole value (a key, an event, a raw
// part) before it hands it over, so the stop bounds that buffer.
type budget struct {
	r    io.Reader
	n    int64 // bytes passed on
	stop int64
	what func() string // what went over, for the error
}

// readSlack is how far past the value it decodes json.Decoder may have
// read (it reads ahead in blocks).
const readSlack = 64 << 10

func (b *budget) Read(p []byte) (int, error) {
	if b.n >= b.stop {
		return 0, &LimitError{What: b.what()}
	}
	if rest := b.stop - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// allow lets the decoder read up to size bytes past offset, the start of
// the next value (what it has read already stays read: a value that fits
// is in its buffer then).
func (b *budget) allow(offset int64, size int64, what func() string) {
	b.stop = max(b.n, offset+size+readSlack)
	b.what = what
}

// limitErr returns err's *LimitError, if it has one.
func limitErr(err error) (*LimitError, bool) {
	var le *LimitError
	return le, errors.As(err, &le)
}

// liveTasks follows, as events are decoded, the processes alive and the
// threads that spawned and have not exited, as the summary and compare
// will hold them (they read in time order through the reorder window; in
// the file's order the count differs by at most that window).
type liveTasks struct {
	m map[uint32]struct{}
}

// liveOp is what one event does to the tasks alive: taken from the event
// where it is decoded (readBinaryEvents' workers), applied in file order.
type liveOp struct {
	tid, pid, child uint32
	exit, groupDead bool
	addTid          bool
	addChild        bool
}

func liveOpOf(ev *tracer.Event) liveOp {
	op := liveOp{tid: ev.Tid, pid: ev.Pid}
	switch ev.Kind {
	case tracer.KindExit:
		op.exit, op.groupDead = true, ev.GroupDead
	case tracer.KindSyscall:
		if _, ok := spawn.CloneFlags(ev); ok && ev.Ret > 0 {
			if _, _, isProcess := spawn.IsProcessSpawn(ev); isProcess {
				op.addChild, op.child = true, ev.SpawnedChild() // as the summary keys its open spawns
			}
			op.addTid = true
		} else if ev.Nr64() == sysno.Socketpair && ev.Ret == 0 {
			op.addTid = true
		}
	}
	return op
}

func (l *liveTasks) apply(op liveOp) error {
	if op.exit {
		delete(l.m, op.tid)
		if op.groupDead {
			delete(l.m, op.pid)
		}
		return nil
	}
	if !op.addTid {
		return nil
	}
	if l.m == nil {
		l.m = map[uint32]struct{}{}
	}
	if op.addChild {
		l.m[op.child] = struct{}{}
	}
	l.m[op.tid] = struct{}{}
	if len(l.m) > MaxLiveTasks {
		return &LimitError{What: fmt.Sprintf("more than %d processes and spawning threads alive at once", MaxLiveTasks)}
	}
	return nil
}
