package live

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// readHost gathers the facts that make two recordings comparable.
func readHost() recording.Host {
	h := recording.Host{CPUs: runtime.NumCPU(), PageBytes: os.Getpagesize()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.KernelRelease = unix.ByteSliceToString(u.Release[:])
		h.Machine = unix.ByteSliceToString(u.Machine[:])
		h.Hostname = unix.ByteSliceToString(u.Nodename[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.MemBytes = uint64(si.Totalram) * uint64(si.Unit)
	}
	h.THPMode = thpMode()
	h.Distro = distro()
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	h.CPUModel = cpuModel(cpuinfo)
	h.Virtualization = virtualization(cpuinfo, readSysFile)
	f := tracer.ProbeFeatures()
	h.Features = &f
	return h
}

// thpMode reads the bracketed choice of
// /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}

// distro is PRETTY_NAME of os-release, or NAME and VERSION_ID.
func distro() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if b, err := os.ReadFile(p); err == nil {
			return parseOSRelease(b)
		}
	}
	return ""
}

func parseOSRelease(b []byte) string {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		vals[k] = v
	}
	if v := vals["PRETTY_NAME"]; v != "" {
		return v
	}
	return strings.TrimSpace(vals["NAME"] + " " + vals["VERSION_ID"])
}

// cpuModel is the first "model name" of /proc/cpuinfo; on arm64, which has
// none, the implementer and part numbers.
func cpuModel(cpuinfo []byte) string {
	var impl, part string
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "CPU implementer":
			impl = v
		case "CPU part":
			part = v
		}
	}
	if impl != "" {
		return "implementer " + impl + " part " + part
	}
	return ""
}

func readSysFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// acpiOEMs maps the OEM ID of ACPI tables (bytes 10-15 of the header) to
// the virtual machine monitor that writes it.
var acpiOEMs = map[string]string{
	"FIRECK": "Firecracker",
	"BOCHS ": "QEMU",
	"BXPC  ": "QEMU",
	"VBOX  ": "VirtualBox",
	"VRTUAL": "Hyper-V",
	"CLOUDH": "Cloud Hypervisor",
	"Xen   ": "Xen",
	"PTLTD ": "VMware",
	"AMAZON": "Amazon EC2",
}

// virtualization says whether this kernel runs under a hypervisor, and
// which, from what is readable without privileges beyond root's: the CPU's
// hypervisor flag, the paravirtual clock offered, DMI names and the OEM ID
// of ACPI tables (Firecracker has no DMI but writes "FIRECK" there).
func virtualization(cpuinfo []byte, read func(string) string) string {
	flagged := false
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "flags" {
			flagged = strings.Contains(" "+v+" ", " hypervisor ")
			break
		}
	}
	xen := strings.TrimSpace(read("/sys/hypervisor/type"))
	if !flagged && xen == "" {
		if len(cpuinfo) == 0 {
			return ""
		}
		return "none"
	}
	var kernel string
	clocks := read("/sys/devices/system/clocksource/clocksource0/available_clocksource")
	switch {
	case xen != "":
		kernel = "Xen"
	case strings.Contains(clocks, "kvm-clock"):
		kernel = "KVM"
	case strings.Contains(clocks, "hyperv"):
		kernel = "Hyper-V"
	}
	var vmm string
	for _, t := range []string{"DSDT", "FACP", "APIC"} {
		b := read("/sys/firmware/acpi/tables/" + t)
		if len(b) >= 16 {
			if name, ok := acpiOEMs[b[10:16]]; ok {
				vmm = name
				break
			}
		}
	}
	if vmm == "" {
		vendor := strings.TrimSpace(read("/sys/class/dmi/id/sys_vendor"))
		product := strings.TrimSpace(read("/sys/class/dmi/id/product_name"))
		vmm = strings.TrimSpace(vendor + " " + product)
	}
	switch {
	case kernel != "" && vmm != "" && vmm != kernel:
		return kernel + " (" + vmm + ")"
	case kernel != "":
		return kernel
	case vmm != "":
		return vmm
	}
	return "hypervisor"
}
