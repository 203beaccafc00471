package live

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// spawnerProbe reads /proc facts of each process the first time it forks,
// while it is still alive: how much of it is in transparent huge pages
// decides the cost of the copy as much as its size does. Reading
// smaps_rollup walks the page tables, so it runs off the ring-buffer
// reader's goroutine.
type spawnerProbe struct {
	pids chan uint32
	seen map[uint32]bool // reader goroutine only
	mu   sync.Mutex
	info []recording.ProcessInfo
	done chan struct{}
}

func newSpawnerProbe() *spawnerProbe {
	p := &spawnerProbe{pids: make(chan uint32, 256), seen: map[uint32]bool{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for pid := range p.pids {
			if info, ok := readProcessInfo(pid); ok {
				p.mu.Lock()
				p.info = append(p.info, info)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// Observe is called for every event on the reader goroutine.
func (p *spawnerProbe) Observe(ev *tracer.Event) {
	if ev.Kind != tracer.KindFork || ev.Thread || p.seen[ev.Pid] {
		return
	}
	p.seen[ev.Pid] = true
	select {
	case p.pids <- ev.Pid:
	default: // a burst of new spawners: skip rather than stall the reader
	}
}

// Finish waits for pending reads and keeps what was read.
func (p *spawnerProbe) Finish(rec *recording.Recording) {
	close(p.pids)
	<-p.done
	rec.Spawners = p.info
}

func readProcessInfo(pid uint32) (recording.ProcessInfo, bool) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	f, err := os.Open(dir + "/smaps_rollup")
	if err != nil {
		return recording.ProcessInfo{}, false
	}
	defer f.Close()
	info := recording.ProcessInfo{Pid: pid}
	if comm, err := os.ReadFile(dir + "/comm"); err == nil {
		info.Comm = strings.TrimSpace(string(comm))
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("Rss:")):
			info.RSSBytes = kbField(line)
		case bytes.HasPrefix(line, []byte("AnonHugePages:")):
			info.AnonHugeBytes = kbField(line)
		}
	}
	return info, true
}

// kbField parses "Name:   1234 kB" into bytes.
func kbField(line []byte) uint64 {
	f := strings.Fields(string(line))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n << 10
}
