package benchworker

import "testing"

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"0", 0}, {"4096", 4096}, {"64K", 64 << 10}, {"256M", 256 << 20}, {"256m", 256 << 20},
		{"1G", 1 << 30}, {"1.5G", 3 << 29}, {"512MiB", 512 << 20}, {"2GB", 2 << 30}, {"1T", 1 << 40},
	} {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if c.want > 0 {
			back, err := ParseSize(FormatSize(c.want))
			if err != nil || back != c.want {
				t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", c.want, back, err)
			}
		}
	}
	for _, bad := range []string{"", "M", "-1G", "1Q", "lots", "2P", "1e30"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}
