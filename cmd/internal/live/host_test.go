package live

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	for in, want := range map[string]string{
		"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n": "Debian GNU/Linux 12 (bookworm)",
		"NAME=\"CentOS Linux\"\nVERSION_ID=\"7\"\n":                                   "CentOS Linux 7",
		"# comment\nPRETTY_NAME='Alpine Linux v3.19'\n":                               "Alpine Linux v3.19",
		"": "",
	} {
		if got := parseOSRelease([]byte(in)); got != want {
			t.Errorf("parseOSRelease(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCPUModel(t *testing.T) {
	x86 := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu hypervisor\n"
	arm := "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n"
	if got := cpuModel([]byte(x86)); got != "AMD EPYC" {
		t.Errorf("x86: %q", got)
	}
	if got := cpuModel([]byte(arm)); got != "implementer 0x41 part 0xd0c" {
		t.Errorf("arm: %q", got)
	}
}

func TestVirtualization(t *testing.T) {
	guest := []byte("model name\t: AMD EPYC\nflags\t\t: fpu sse hypervisor lahf_lm\n")
	metal := []byte("model name\t: AMD EPYC\nflags\t\t: fpu sse lahf_lm\n")
	acpi := func(oem string) string { return "DSDT\x17\x0f\x00\x00\x02w" + oem + "FCVMDSDT" }
	for _, c := range []struct {
		name    string
		cpuinfo []byte
		files   map[string]string
		want    string
	}{
		{"firecracker", guest, map[string]string{
			"/sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc kvm-clock \n",
			"/sys/firmware/acpi/tables/DSDT":                                     acpi("FIRECK"),
		}, "KVM (Firecracker)"},
		{"qemu by dmi", guest, map[string]string{
			"/sys/devices/system/clocksource/clocksource0/available_clocksource": "kvm-clock tsc\n",
			"/sys/class/dmi/id/sys_vendor":                                       "QEMU\n",
			"/sys/class/dmi/id/product_name":                                     "Standard PC (Q35 + ICH9, 2009)\n",
		}, "KVM (QEMU Standard PC (Q35 + ICH9, 2009))"},
		{"hyper-v", guest, map[string]string{
			"/sys/devices/system/clocksource/clocksource0/available_clocksource": "hyperv_clocksource_tsc_page\n",
			"/sys/class/dmi/id/sys_vendor":                                       "Microsoft Corporation\n",
			"/sys/class/dmi/id/product_name":                                     "Virtual Machine\n",
		}, "Hyper-V (Microsoft Corporation Virtual Machine)"},
		{"xen pv", metal, map[string]string{"/sys/hypervisor/type": "xen\n"}, "Xen"},
		{"unknown", guest, nil, "hypervisor"},
		{"bare metal", metal, nil, "none"},
		{"no cpuinfo", nil, nil, ""},
	} {
		read := func(p string) string { return c.files[p] }
		if got := virtualization(c.cpuinfo, read); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestIdentifyLibc(t *testing.T) {
	banner := "\x00GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\nCopyright\x00"
	old := "\x00GNU C Library (GNU libc) stable release version 2.17, by Roland McGrath et al.\x00"
	for _, c := range []struct {
		name, body, path, want string
	}{
		{"debian", banner + "GLIBC_2.2.5\x00GLIBC_2.36\x00", "/lib/x86_64-linux-gnu/libc.so.6", "glibc 2.36"},
		{"centos 7", old, "/lib64/libc-2.17.so", "glibc 2.17"},
		// A mention of the name before the banner, the version not on its line.
		{"banner after a mention", "\x00GNU C Library\nversion 9.9\x00" + banner, "/lib/libc.so.6", "glibc 2.36"},
		{"by file name", "GLIBC_2.2.5\x00", "/lib64/libc-2.12.so", "glibc 2.12"},
		{"by symbol versions", "GLIBC_2.2.5\x00GLIBC_2.34\x00GLIBC_2.3.4\x00GLIBC_2.28\x00", "/lib/libc.so.6", "glibc >= 2.34"},
		{"musl", "musl libc (x86_64)\x00Version %s\n\x001.2.4\x00", "/lib/ld-musl-x86_64.so.1", "musl 1.2.4"},
		{"neither", "hello", "/lib/libc.so.6", ""},
	} {
		got := identifyLibc([]byte(c.body), c.path).String()
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLibcInMaps(t *testing.T) {
	maps := `55d0c0a00000-55d0c0a28000 r--p 00000000 fd:01 1234 /usr/bin/python3.11
7f2a1c000000-7f2a1c028000 r--p 00000000 fd:01 5678 /usr/lib/x86_64-linux-gnu/libc.so.6
7f2a1c400000-7f2a1c401000 r--p 00000000 00:00 0
7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0 [stack]
`
	if got := libcInMaps(strings.NewReader(maps)); got != "/usr/lib/x86_64-linux-gnu/libc.so.6" {
		t.Errorf("got %q", got)
	}
	if got := libcInMaps(strings.NewReader("00-01 r--p 0 0 0 /usr/lib/libcrypto.so.3\n")); got != "" {
		t.Errorf("libcrypto taken for libc: %q", got)
	}
}

// TestLibcOfThisHost reads the libc of a running dynamically linked process
// and of an executable on this host; it needs only /proc and /usr/bin.
func TestLibcOfThisHost(t *testing.T) {
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	l := libcOfExecutable(sh)
	if l == nil || (l.Name != "glibc" && l.Name != "musl" && l.Name != "none") {
		t.Fatalf("libc of %s: %+v", sh, l)
	}
	t.Logf("libc of %s: %s (%s, %s)", sh, l, l.Path, l.Source)
	if l.Name == "glibc" && l.Version == "" {
		t.Errorf("glibc without a version: %+v", l)
	}
	// This test binary maps a libc only when built with cgo.
	if l := libcOfProcess(uint32(os.Getpid())); l != nil && (l.Version == "" || !strings.HasPrefix(l.Source, "mapped by ")) {
		t.Errorf("libc of this process: %+v", l)
	}
}

// An executable the workload made, whose second PT_INTERP claims 2^62
// bytes: libcOfExecutable made a slice of that length and panicked
// (makeslice: len out of range), which ended spawntrace at the run's end
// with its outputs empty. The kernel reads the first PT_INTERP only, and
// refuses one longer than PATH_MAX.
func TestLibcOfExecutableHugeInterp(t *testing.T) {
	const interp = "/lib64/ld-linux-x86-64.so.2\x00"
	b := make([]byte, 0x200)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[0x10:], uint16(elf.ET_EXEC))
	le.PutUint16(b[0x12:], uint16(elf.EM_X86_64))
	le.PutUint32(b[0x14:], 1)
	le.PutUint64(b[0x20:], 0x40) // e_phoff
	le.PutUint16(b[0x34:], 0x40) // e_ehsize
	le.PutUint16(b[0x36:], 0x38) // e_phentsize
	for i, h := range []struct{ size, off uint64 }{{1 << 62, 0}, {uint64(len(interp)), 0x100}, {1 << 62, 0}} {
		ph := b[0x40+0x38*i:]
		le.PutUint32(ph[0:], uint32(elf.PT_INTERP))
		le.PutUint64(ph[0x08:], h.off)
		le.PutUint64(ph[0x20:], h.size) // p_filesz
		le.PutUint64(ph[0x28:], h.size) // p_memsz
	}
	le.PutUint16(b[0x38:], 3) // e_phnum
	copy(b[0x100:], interp)
	exe := filepath.Join(t.TempDir(), "exe")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// The first PT_INTERP here is the huge one: the kernel would refuse to
	// run it, and no libc is named from it.
	if l := libcOfExecutable(exe); l != nil && l.Path != "" {
		t.Errorf("libcOfExecutable: %+v, want none from a PT_INTERP the kernel refuses", l)
	}
	// Real first, huge second: the first names the loader.
	copy(b[0x40:0x40+0x38], b[0x40+0x38:0x40+0x70])
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if l := libcOfExecutable(exe); l == nil || l.Name != "glibc" {
		t.Errorf("libcOfExecutable: %+v, want glibc, by /lib64/ld-linux-x86-64.so.2", l)
	}
}
