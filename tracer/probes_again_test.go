package tracer

import "testing"

func TestPreemptibleTracepoints(t *testing.T) {
	for release, want := range map[string]bool{
		"5.10.0-32-cloud-amd64":     false,
		"6.1.0-50-cloud-amd64":      false,
		"6.12.95+deb12-cloud-amd64": false,
		"6.18.3":                    false,
		"6.19.0-rc1":                true,
		"7.3.4+deb13-cloud-amd64":   true,
		"(unknown release)":         true,
	} {
		if got := preemptibleTracepoints(release); got != want {
			t.Errorf("preemptibleTracepoints(%q) = %v, want %v", release, got, want)
		}
	}
}
