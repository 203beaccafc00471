package spill

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestUvarintAsBinary: Decoder.Uvarint reads what binary.Uvarint reads,
// and fails where it fails (truncated, longer than 64 bits).
func TestUvarintAsBinary(t *testing.T) {
	inputs := [][]byte{nil, {0}, {0x7f}, {0x80}, {0x80, 0}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0}}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		b := binary.AppendUvarint(nil, rng.Uint64()>>rng.IntN(64))
		inputs = append(inputs, append(b, 0x55), b[:rng.IntN(len(b))])
	}
	for _, in := range inputs {
		want, n := binary.Uvarint(in)
		d := Decoder{B: in}
		got := d.Uvarint()
		if n <= 0 {
			if d.Err == nil || got != 0 || d.B != nil {
				t.Errorf("% x: %d, rest % x, error %v; want a failure", in, got, d.B, d.Err)
			}
			continue
		}
		if got != want || d.Err != nil || len(d.B) != len(in)-n {
			t.Errorf("% x: %d, rest % x, error %v; want %d, rest % x", in, got, d.B, d.Err, want, in[n:])
		}
	}
}
