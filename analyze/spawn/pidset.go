package spawn

// pidSet counts processes in bounded memory: a bit per pid, in pages
// made as pids are seen. Linux pids stay below 2^22 (PID_MAX_LIMIT), so it
// never holds more than 64 pages of 8 KiB, however many processes a run
// makes; a map would grow by a few dozen bytes a process.
type pidSet struct {
	pages map[uint32]*[pidPageWords]uint64
	n     int
}

const (
	pidPageBits  = 1 << 16
	pidPageWords = pidPageBits / 64
)

func (s *pidSet) add(pid uint32) {
	if s.pages == nil {
		s.pages = map[uint32]*[pidPageWords]uint64{}
	}
	page := s.pages[pid/pidPageBits]
	if page == nil {
		page = new([pidPageWords]uint64)
		s.pages[pid/pidPageBits] = page
	}
	word, bit := pid%pidPageBits/64, uint64(1)<<(pid%64)
	if page[word]&bit == 0 {
		page[word] |= bit
		s.n++
	}
}

// remove forgets a pid whose process exited: seen again, it is another
// process (pids are reused) and counts again.
func (s *pidSet) remove(pid uint32) {
	if page := s.pages[pid/pidPageBits]; page != nil {
		page[pid%pidPageBits/64] &^= uint64(1) << (pid % 64)
	}
}

// len is how many processes were added: distinct pids, a reused pid once
// per process.
func (s *pidSet) len() int { return s.n }
