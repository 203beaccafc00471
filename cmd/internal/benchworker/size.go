package benchworker

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a byte count with an optional binary suffix: 0, 4096,
// 64K, 256M, 1G, 1.5G, 512MiB.
func ParseSize(s string) (uint64, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "IB"), "B")
	mult := uint64(1)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*float64(mult) >= 1<<50 {
		return 0, fmt.Errorf("not a size (use bytes or K, M, G, T: 0, 256M, 1G)")
	}
	return uint64(v * float64(mult)), nil
}

// FormatSize writes a size as ParseSize reads it.
func FormatSize(b uint64) string {
	for _, u := range []struct {
		shift uint
		unit  string
	}{{40, "T"}, {30, "G"}, {20, "M"}, {10, "K"}} {
		if b >= 1<<u.shift && b%(1<<u.shift) == 0 {
			return strconv.FormatUint(b>>u.shift, 10) + u.unit
		}
	}
	return strconv.FormatUint(b, 10)
}
