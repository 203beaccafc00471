#!/usr/bin/env bash
# The kernel matrix (`make kernels`): boots Debian's cloud kernels in qemu,
# each with an initramfs of a static busybox, bin/spawntrace, strace (the
# oracle) and testdata/kernels/init, which traces a busybox sh loop whose
# counts are known (also from a new pid namespace, and with the copy timed
# by kprobes forced) and writes the results on a second serial port. Fails
# on any difference from what the matrix below expects of each kernel.
#
# Kernels come from Debian's suites through apt-get download (apt checks each
# .deb against the suite's signed index), one apt state per suite, unpacked
# and never installed, and are kept in $KERNELS_CACHE between runs.
# qemu runs TCG with one thread: /dev/kvm on these machines is a nested
# hypervisor that cannot boot a stock kernel, and multi-threaded TCG hung in
# 3 of 4 boots right after the BPF attach.
#
# Knobs (environment): KERNELS (suites to boot, default all of the matrix),
# KERNEL_JOBS (kernels booted at once: 1, or one a CPU under CI=true, where
# the machine is the test's alone), KERNEL_TIMEOUT (seconds per boot, 600),
# REPEAT=N (only the oracle and N runs of spawntrace -c on the loop, every
# second one sampling the CPU (--pprof) as well, each
# of which must count exactly as strace does, whatever the matrix expects),
# KERNELS_CACHE (default $XDG_CACHE_HOME or ~/.cache, then
# spawntrace-kernels), MIRROR (http://deb.debian.org/debian), KEEP=1 keeps
# each boot's console log and results under the printed directory.
# Needs root only for what it installs (make deps); qemu runs unprivileged.
set -euo pipefail

# suite, what spawntrace does on its kernel, the guest's CPU, the series,
# what the kernel lacks, and which syscall tracepoints --spawns-only takes
# (calls: the spawn calls' own; raw: the raw pair, before 5.15 and where
# the kernel preempts BPF programs, whose perf-event programs it skips
# then: 7.3.4 lost an execve so in 2 of 16 runs):
#   load    loads, attaches every probe it has, counts the loop as strace does
#   lossy   the same, but a few syscalls of the loop's ~137 go uncounted in
#           some runs, and no lost event says so: counts may fall short of
#           strace's (shown), never exceed them; the spawns are exact
#   refuse  exits 1 at once with one line on stderr matching $REFUSED
# The last column lists the probes and helpers spawntrace must name as
# unavailable, and the fallbacks it must name as taken, on that kernel:
# exactly those (- for none). 5.10 has no task storage and no
# bpf_get_current_task_btf (5.11: a hash keyed by tid stands in), no
# bpf_loop (5.17: failed execs' argv unread), and no mmap_lock tracepoints
# (kprobes stand in).
# 7.3.4 missed 1-4 of the 137 in 3 of 6 boots (the calls of fork children
# before their exec, once that exec too) while each syscall tracepoint had
# one program: the kernel skips a program on a CPU where another task is
# inside it, and 7.x lets tasks be preempted there (see the BPF side's
# _again programs).
# CPU: Debian 12's qemu (7.2) corrupts SLUB's lockless freelists through
# CMPXCHG16B under TCG: 6.12 double-faulted in kmem_cache_alloc_noprof right
# after a cmpxchg16b in 5 of 5 boots (-cpu max or qemu64), so it gets a CPU
# without it (SLUB then takes a lock). 7.x needs it: without it every task
# storage allocation from BPF failed (kmalloc_nolock, likely, needs it) and
# spawntrace counted nothing ("lost events: 140 (140 syscalls not timed)").
MATRIX="
bullseye            load    max         5.10  helper:bpf_loop,map:task_storage,mmap_lock:copy-timing  raw
bookworm            load    max         6.1   -                                                   calls
bookworm-backports  load    max,-cx16   6.12  -                                                   calls
trixie-backports    load    max         7.x   -                                                   raw
"
REFUSED='^spawntrace: loading BPF: kernel [^ ]+ has no BPF ring buffer maps, which spawntrace needs \(Linux 5\.8\+\)$'

# The loop in init: busybox sh forks (clone, no CLONE_VM) per command and
# waits twice (the child, then ECHILD); 6 execs with sh's own. strace -f -c
# of the same busybox on the host (6.18) counts the same.
KNOWN="clone 5 0
execve 6 0
wait4 10 5"

cd "$(dirname "$0")/../.."
GO=${GO:-go}
JOBS=${KERNEL_JOBS:-$([ "${CI:-}" = true ] && nproc || echo 1)}
TIMEOUT=${KERNEL_TIMEOUT:-600}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
cache=${KERNELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spawntrace-kernels}
suites=${KERNELS:-$(awk 'NF {print $1}' <<<"$MATRIX")}

log() { printf '%s\n' "$*" >&2; }
die() { log "kernels: $*"; exit 1; }
[[ "${REPEAT:-}" =~ ^([1-9][0-9]*)?$ ]] || die "REPEAT=$REPEAT: not a count of runs"

for tool in qemu-system-x86_64 busybox cpio strace dpkg-deb apt-get; do
	command -v "$tool" >/dev/null || die "$tool not found (make deps installs it)"
done
bb=$(command -v busybox)
! LC_ALL=C readelf -l "$bb" | grep -q INTERP || die "$bb is not static (apt-get install busybox-static)"
[ -x bin/spawntrace ] || die "no bin/spawntrace (make build)"

work=$(mktemp -d /tmp/spawntrace-kernels.XXXXXX)
if [ "${KEEP:-}" = 1 ]; then log "kernels: logs in $work"; else trap 'rm -rf "$work"' EXIT; fi

# fetch SUITE: prints the path of SUITE's cloud-amd64 vmlinuz, downloading it
# when the cache lacks the suite's current one.
fetch() {
	local suite=$1 d=$cache/$1
	mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/empty"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" >"$d/sources.list"
	# Nothing of the host's apt configuration: its sources, its caches, its
	# extra index targets.
	cat >"$d/apt.conf" <<-EOF
		Dir::Etc::main "/dev/null"; Dir::Etc::parts "$d/empty";
		Dir::Etc::sourcelist "$d/sources.list"; Dir::Etc::sourceparts "$d/empty";
		Dir::Etc::preferences "/dev/null"; Dir::Etc::preferencesparts "$d/empty";
		Dir::State "$d"; Dir::State::lists "$d/lists"; Dir::State::status "/dev/null";
		Dir::Cache "$d"; Dir::Cache::archives "$d/archives";
		Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
		Acquire::Languages "none"; APT::Sandbox::User "root";
	EOF
	export APT_CONFIG=$d/apt.conf
	if [ -z "$(find "$d/updated" -mmin -1440 2>/dev/null)" ]; then
		apt-get -qq update >&2 && touch "$d/updated"
	fi
	local image pkg deb
	image=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
	[ -n "$image" ] || die "$suite: no linux-image-cloud-amd64"
	# From trixie on, vmlinuz is in linux-binary-VERSION, a dependency.
	pkg=$(apt-cache depends "$image" | awk '/Depends: linux-binary-/ {print $2; exit}')
	pkg=${pkg:-$image}
	deb=$(find "$d/archives" -maxdepth 1 -name "${pkg}_$(apt-cache policy "$pkg" |
		awk '/Candidate:/ {gsub(":", "%3a", $2); print $2}')_*.deb")
	if [ -z "$deb" ]; then
		rm -f "$d"/archives/*.deb "$d"/archives/*.vmlinuz
		(cd "$d/archives" && apt-get -qq download "$pkg" >&2)
		deb=$(find "$d/archives" -maxdepth 1 -name "${pkg}_*.deb")
	fi
	if [ ! -s "${deb%.deb}.vmlinuz" ]; then
		dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './boot/vmlinuz-*' './usr/lib/modules/*/vmlinuz' \
			>"${deb%.deb}.tmp" 2>/dev/null || [ -s "${deb%.deb}.tmp" ] || die "$suite: no vmlinuz in $deb"
		mv "${deb%.deb}.tmp" "${deb%.deb}.vmlinuz"
	fi
	echo "${deb%.deb}.vmlinuz"
}

# The initramfs: busybox, spawntrace, strace with its libraries, the init.
root=$work/root
mkdir -p "$root/bin"
cp "$bb" "$root/bin/busybox"
cp bin/spawntrace "$root/bin/"
cp testdata/kernels/init "$root/init"
chmod 755 "$root/init"
strace=$(readlink -f "$(command -v strace)")
# shellcheck disable=SC2046 # one path a word
cp -L --parents "$strace" $(ldd "$strace" | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}') "$root/"
ln -s "$strace" "$root/bin/strace"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd"

# boot SUITE VMLINUZ CPU: runs the init in qemu; the results land in
# $work/SUITE.
boot() {
	local suite=$1 vmlinuz=$2 cpu=$3 out=$work/$1 start=$SECONDS
	mkdir -p "$out"
	timeout "$TIMEOUT" qemu-system-x86_64 -nodefaults -display none -no-reboot \
		-accel tcg,thread=single -cpu "$cpu" -smp 2 -m 2G \
		-kernel "$vmlinuz" -initrd "$work/initrd" -append "console=ttyS0 panic=-1${REPEAT:+ spawntrace.repeat=$REPEAT}" \
		-serial "file:$out/console.log" -serial "file:$out/results" </dev/null >"$out/qemu.log" 2>&1 ||
		echo "qemu exited $?" >>"$out/qemu.log"
	echo $((SECONDS - start)) >"$out/seconds"
}

# section SUITE NAME: what NAME printed; status SUITE NAME: its exit status.
section() { sed -n "/^begin $2\$/,/^end $2 /{/^begin $2\$/d;/^end $2 /d;p}" "$work/$1/results" | tr -d '\r'; }
status() { awk -v n="$2" '$1 == "end" && $2 == n {print $3}' "$work/$1/results"; }
# blob SUITE NAME FILE: a base64 section decoded into FILE.
blob() { sed -n "/^base64 $2\$/,/^end $2 /{/^base64 /d;/^end /d;p}" "$work/$1/results" | base64 -d >"$3"; }
# feature NAME: whether the recording's host offered probe kind NAME.
feature() {
	zcat "$out/rec.json.gz" | grep -o "\"$1\":{[^}]*}" | sed 's/.*"available":true.*/yes/; s/.*"reason":"\(.*\)"}/no (\1)/'
}
# over ORACLE COUNTED: the rows of COUNTED above ORACLE's, and the spawn
# calls' rows that differ at all.
over() {
	awk 'NR == FNR {c[$1] = $2; e[$1] = $3; next}
		!($1 in c) || $2 > c[$1] || $3 > e[$1] || ($1 ~ /^(clone|execve)$/ && $2 != c[$1])' \
		<(echo "$1") <(echo "$2")
}
# table: an strace -c table as "syscall calls errors" lines, sorted.
table() {
	awk '/^% time/ {on = 1; next} $NF == "total" {on = 0} on && $1 ~ /^[0-9.]+$/ {print $NF, $4, (NF == 6 ? $5 : 0)}' | sort
}

# named SUITE RUN: the probes RUN's summary names as unavailable or as
# fallbacks taken, sorted, comma-separated (- for none).
named() {
	local names
	names=$(section "$1" "$2" | sed -n 's/^spawntrace: \(unavailable\|fallback\): \([^ ]*\).*/\2/p' | LC_ALL=C sort | paste -sd,)
	echo "${names:--}"
}

# lost_parts SUITE RUN: the parts of RUN's lost-events line, one a line
# (nothing when it lost nothing); skips SUITE RUN: those that are runs the
# kernel skipped (counted machine-wide, so "up to"), which a run may have
# where the table is still strace's; others SUITE RUN: the rest.
lost_parts() {
	section "$1" "$2" | sed -n 's/^spawntrace: lost events: [0-9]* (\(.*\))$/\1/p' | sed 's/, /\n/g'
}
skip_re='^up to [0-9]+ .*: the kernel skipped its program on [^ ]+$'
skips() { lost_parts "$1" "$2" | grep -E "$skip_re" | paste -sd';' || true; }
others() { lost_parts "$1" "$2" | grep -vE "$skip_re" | paste -sd';' || true; }

# check_repeat SUITE: under REPEAT, every run's table must be strace's; prints
# one line on the kernel, the runs that differ and what the kernel skipped;
# 1 when any differs.
check_repeat() {
	local suite=$1 out=$work/$1 fail=() oracle counted i differ=0
	touch "$out/results"
	grep -q '^done' "$out/results" || fail+=("no 'done' from the init: $(tail -1 "$out/qemu.log" 2>/dev/null)")
	oracle=$(section "$suite" strace | table)
	[ "$(grep -E '^(clone|execve|wait4) ' <<<"$oracle")" = "$(sort <<<"$KNOWN")" ] || fail+=("strace counts differ from the loop's")
	for i in $(seq "$REPEAT"); do
		[ "$(status "$suite" "count$i")" = 0 ] || { fail+=("run $i exited '$(status "$suite" "count$i")'"); continue; }
		counted=$(section "$suite" "count$i" | table)
		section "$suite" "count$i" | grep -q '^spawntrace: lost events: [0-9]' || fail+=("run $i: no lost-events line")
		[ -z "$(others "$suite" "count$i")" ] || fail+=("run $i: lost events: $(others "$suite" "count$i")")
		if [ "$counted" != "$oracle" ]; then
			differ=$((differ + 1))
			fail+=("run $i: $(diff <(echo "$oracle") <(echo "$counted") | grep '^[<>]' | tr '\n' ' ')")
		fi
		section "$suite" "count$i" | sed -n "s/^spawntrace: runs the kernel skipped [^:]*: /  run $i: skipped by the kernel: /p"
		[ -z "$(skips "$suite" "count$i")" ] || echo "  run $i: not made up: $(skips "$suite" "count$i")"
	done
	local verdict=ok
	[ ${#fail[@]} -eq 0 ] || verdict=FAIL
	printf 'kernels: %-19s %-26s repeat %s: %d of %d runs counted other than strace (%s s)\n' "$suite" \
		"$(awk '$1 == "kernel" {print $2}' "$out/results")" "$verdict" "$differ" "$REPEAT" "$(cat "$out/seconds")"
	[ ${#fail[@]} -eq 0 ] && return 0
	printf '  FAIL: %s\n' "${fail[@]}"
	return 1
}

# check SUITE EXPECT LACKS PATH: prints one line on the kernel; 1 when it
# differs. LACKS and PATH are the matrix's last two columns.
check() {
	local suite=$1 expect=$2 lacks=$3 spawnpath=$4 out=$work/$1 fail=() notes=() run
	lacks=$(tr , '\n' <<<"$lacks" | LC_ALL=C sort | paste -sd,)
	local r=$out/results
	touch "$r"
	grep -q '^done' "$r" || fail+=("no 'done' from the init: $(tail -1 "$out/qemu.log" 2>/dev/null)")
	grep -q '^btf yes' "$r" || fail+=("no /sys/kernel/btf/vmlinux")
	if grep -qE 'Call Trace|BUG:|WARNING:|Oops' "$out/console.log"; then
		fail+=("the kernel logged a trace: $(grep -m1 -E 'Call Trace|BUG:|WARNING:|Oops' "$out/console.log")")
	fi
	local want got
	want=$(sort <<<"$KNOWN")
	got=$(section "$suite" strace | table | grep -E '^(clone|execve|wait4) ' || true)
	[ "$got" = "$want" ] || fail+=("strace counts $(echo $got) where the loop makes $(echo $want)")
	case $expect in
	refuse)
		local lines
		lines=$(section "$suite" count)
		[ "$(status "$suite" count)" = 1 ] || fail+=("spawntrace exited '$(status "$suite" count)', not 1")
		[ "$(wc -l <<<"$lines")" = 1 ] && grep -qE "$REFUSED" <<<"$lines" ||
			fail+=("not the one line expected: $(echo $lines)")
		notes+=("$lines")
		;;
	load | lossy)
		[ "$(status "$suite" count)" = 0 ] || fail+=("spawntrace -c exited '$(status "$suite" count)'")
		[ "$(status "$suite" record)" = 0 ] || fail+=("spawntrace --pprof -w exited '$(status "$suite" record)'")
		[ "$(status "$suite" nested)" = 0 ] || fail+=("spawntrace -c in a pid namespace exited '$(status "$suite" nested)'")
		local oracle counted
		oracle=$(section "$suite" strace | table)
		notes+=("strace (calls, errors): $(grep -E '^(clone|execve|wait4) ' <<<"$oracle" | tr '\n' ' ')of $(awk '{n += $2} END {print n}' <<<"$oracle") calls")
		section "$suite" count | grep -q '^spawntrace: lost events: [0-9]' || fail+=("no lost-events line")
		[ -z "$(others "$suite" count)" ] || fail+=("lost events: $(others "$suite" count)")
		[ -z "$(skips "$suite" count)" ] || notes+=("the kernel skipped, not made up: $(skips "$suite" count)")
		section "$suite" count | grep -q '^spawntrace: 6 processes exited' || fail+=("not 6 processes exited")
		# -c alone (count, nested) loads no copy-timing probes, so names
		# none of their fallbacks.
		local want
		for run in count record nested; do
			want=$lacks
			[ "$run" = record ] || want=$(tr ',' '\n' <<<"$lacks" | { grep -v "^mmap_lock:" || true; } | paste -sd,)
			want=${want:--}
			[ "$(named "$suite" $run)" = "$want" ] && continue
			fail+=("$run: named $(named "$suite" $run) as unavailable or fallen back on, not $want: $(section "$suite" $run |
				grep -E '^spawntrace: (unavailable|fallback):' | tr '\n' ' ')")
		done
		[ "$lacks" = - ] || notes+=("unavailable or fallen back on, as expected: $lacks")
		# The second run, with CPU samples, is read from its recording on the
		# host, as another machine would.
		blob "$suite" recording "$out/rec.json.gz"
		bin/spawntrace report "$out/rec.json.gz" >"$out/report" 2>&1 ||
			fail+=("spawntrace report: $(head -1 "$out/report")")
		grep -q '^Spawns: 5 in .*: 5 fork-like, 0 vfork-like, 0 clone-vm; 0 threads$' "$out/report" ||
			fail+=("report: $(grep '^Spawns:' "$out/report")")
		grep -q '^Processes: 6 seen; execs: 6 succeeded, 0 failed$' "$out/report" ||
			fail+=("report: $(grep '^Processes:' "$out/report")")
		# The copy and the teardown of the 5 forks, timed by the mmap_lock
		# tracepoints or, where there are none, by kprobes; and by kprobes
		# forced, on every kernel.
		[ "$(status "$suite" kprobes)" = 0 ] || fail+=("spawntrace --force-fallback mmap_lock:copy-timing exited '$(status "$suite" kprobes)'")
		section "$suite" kprobes | grep -q '^spawntrace: fallback: mmap_lock:copy-timing (' ||
			fail+=("kprobes: $(section "$suite" kprobes | grep 'mmap_lock:copy-timing' | tr '\n' ' ')")
		blob "$suite" kprobes.json.gz "$out/kprobes.json.gz"
		bin/spawntrace report "$out/kprobes.json.gz" >"$out/kprobes.report" 2>&1 ||
			fail+=("spawntrace report (kprobes): $(head -1 "$out/kprobes.report")")
		for run in report kprobes.report; do
			for row in 'address-space copy \(dup_mmap\)' 'exec teardown of the copy'; do
				grep -qE "^ +$row +5 +[0-9.]+ " "$out/$run" || fail+=("$run: no '$row' row of 5 spawns")
			done
		done
		notes+=("copy ms, p50 by tracepoints or as named, then by kprobes: $(for run in report kprobes.report; do
			grep -E '^ +address-space copy \(dup_mmap\) ' "$out/$run" | awk '{printf "%s ", $(NF-3)}'; done)")
		for run in count report nested; do
			if [ $run = report ]; then counted=$(table <"$out/report"); else counted=$(section "$suite" $run | table); fi
			[ "$counted" = "$oracle" ] && continue
			local diff
			diff=$(diff <(echo "$oracle") <(echo "$counted") | grep '^[<>]' | tr '\n' ' ')
			if [ "$expect" = load ]; then
				fail+=("$run: spawntrace's table differs from strace's: $diff")
			elif [ -n "$(over "$oracle" "$counted")" ]; then
				fail+=("$run: spawntrace counted more than strace, or the spawns short: $diff")
			else
				notes+=("finding: $run: spawntrace counted fewer than strace, with no lost event: $diff")
			fi
		done
		# The ptrace backend counts only the spawn calls: their rows must be strace's.
		[ "$(status "$suite" ptrace)" = 0 ] || fail+=("spawntrace --backend ptrace exited '$(status "$suite" ptrace)'")
		local spawn_rows='^(clone|clone3|fork|vfork|execve|execveat) '
		[ "$(section "$suite" ptrace | table | grep -E "$spawn_rows")" = "$(grep -E "$spawn_rows" <<<"$oracle")" ] ||
			fail+=("ptrace: spawn rows differ from strace's: $(section "$suite" ptrace | table | grep -E "$spawn_rows" | tr '\n' ' ')")
		[ "$(status "$suite" spawnsonly)" = 0 ] || fail+=("spawntrace --spawns-only exited '$(status "$suite" spawnsonly)'")
		[ "$(section "$suite" spawnsonly | table | grep -E "$spawn_rows")" = "$(grep -E "$spawn_rows" <<<"$oracle")" ] ||
			fail+=("spawns-only: spawn rows differ from strace's: $(section "$suite" spawnsonly | table | grep -E "$spawn_rows" | tr '\n' ' ')($(section "$suite" spawnsonly | grep -E '^spawntrace: (warning: )?lost events' | tr '\n' ' '))")
		local took
		took=$(section "$suite" spawnsonly | grep -q '^spawntrace: fallback: raw_syscalls' && echo raw || echo calls)
		[ "$took" = "$spawnpath" ] || fail+=("spawns-only took the $took tracepoints, not the $spawnpath ones")
		notes+=("spawns-only on $([ "$took" = raw ] && echo 'the raw pair' || echo "the spawn calls' tracepoints")")
		notes+=("fentry $(feature fentry), kprobes $(feature kprobes)")
		for p in spawns cpu; do
			blob "$suite" "$p.pb.gz" "$out/$p.pb.gz"
			"$GO" tool pprof -raw "$out/$p.pb.gz" >"$out/$p.txt" 2>&1 || fail+=("$p.pb.gz: $(head -1 "$out/$p.txt")")
		done
		# Shown, not checked: before 6.2 a parent's RSS at fork lags by what
		# its threads have not yet folded into the mm (SPLIT_RSS_COUNTING):
		# 6.1 showed 4 KiB for the sh that 6.12 and 7.3.4 show at 1452 KiB.
		notes+=("parent RSS at fork (KiB): $(grep -o 'parent_rss:\[[0-9]*' "$out/spawns.txt" |
			awk -F'[' '{printf "%s%d", (NR > 1 ? "," : ""), $2 / 1024}')")
		[ "$(status "$suite" bench)" = 0 ] || fail+=("spawntrace bench exited '$(status "$suite" bench)': $(section "$suite" bench | tail -1)")
		;;
	esac
	local kernel
	kernel=$(awk '$1 == "kernel" {print $2}' "$r")
	local verdict=ok
	[ ${#fail[@]} -eq 0 ] || verdict=FAIL
	printf 'kernels: %-19s %-26s %-6s %s (%s s)\n' "$suite" "${kernel:-?}" "$expect" "$verdict" "$(cat "$out/seconds")"
	[ ${#notes[@]} -eq 0 ] || printf '  %s\n' "${notes[@]}"
	[ ${#fail[@]} -eq 0 ] && return 0
	printf '  FAIL: %s\n' "${fail[@]}"
	return 1
}

# Downloads first, one suite at a time; then the boots, JOBS at once.
declare -A vmlinuz
for s in $suites; do
	grep -qE "^$s " <<<"$MATRIX" || die "$s is not in the matrix"
	vmlinuz[$s]=$(fetch "$s")
done
for s in $suites; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	boot "$s" "${vmlinuz[$s]}" "$(awk -v s="$s" '$1 == s {print $3}' <<<"$MATRIX")" &
done
wait
failed=0
for s in $suites; do
	if [ -n "${REPEAT:-}" ]; then
		check_repeat "$s" || failed=1
		continue
	fi
	check "$s" "$(awk -v s="$s" '$1 == s {print $2}' <<<"$MATRIX")" "$(awk -v s="$s" '$1 == s {print $5}' <<<"$MATRIX")" \
		"$(awk -v s="$s" '$1 == s {print $6}' <<<"$MATRIX")" || failed=1
done
exit $failed
