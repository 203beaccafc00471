#!/usr/bin/env bash
# Overhead benchmark (`make bench`): spawning workloads (posix_spawn, fork
# from a small and from a large parent, python3 subprocess, make -j2), each
# run untraced, under `spawntrace -c` (the BPF backend; also with
# --spawns-only, with --pprof and with the fallbacks 5.10 takes forced),
# `spawntrace -c --backend ptrace` (its goal: under 1.5x on posix_spawn),
# `strace -f -c -w` and `perf trace -s`, RUNS times each, timed
# whole and from inside the tracer. Prints markdown tables on stdout: median
# wall times and their ratio to the untraced run; spawntrace's own CPU and
# peak RSS (and on a BIG-spawn run); one syscall's cost untraced, under
# empty programs and under spawntrace; its start-up and shut-down; and the
# address-space copy time spawntrace measures beside the CPU time `perf
# record -g` finds under copy_page_range on the same fork workload.
# Then spawn stacks on (-w) against off: the stack copies' ring bytes, the
# unwinding time, the overhead.
# Last, `spawntrace report -c` and `spawntrace report` of saved recordings
# of synthetic spawns (binary, and the JSON export), timed with their peak
# RSS.
# Progress goes to stderr. Needs root.
#
# Knobs (environment): RUNS (3), SPAWNS (2000 posix_spawns), FORKS (200
# forks), MIB (512, the large parent's touched anonymous memory), PY (1000
# python3 subprocess runs), TARGETS (200 make targets), BIG (50000 spawns
# of the memory run), RECS and RECS_BIG (200000 and 1000000 spawns of the
# recordings report reads), USAGE_RUNS (RUNS; the runs whose median gives
# spawntrace's own CPU at each size), and the larger size each workload
# also runs at for spawntrace's CPU per spawn (the difference between the
# two sizes; posix_spawn's is BIG): SPAWNS_MORE (2 x SPAWNS, fork+exec from
# the small parent), FORKS_MORE (1.5 x FORKS), PY_MORE (2 x PY),
# TARGETS_MORE (10 x TARGETS).
# The defaults take about 17 minutes on 2 cores, most of it under strace.
set -euo pipefail

RUNS=${RUNS:-3}
SPAWNS=${SPAWNS:-2000}
FORKS=${FORKS:-200}
MIB=${MIB:-512}
PY=${PY:-1000}
TARGETS=${TARGETS:-200}
BIG=${BIG:-50000}
RECS=${RECS:-200000}
RECS_BIG=${RECS_BIG:-1000000}
SPAWNS_MORE=${SPAWNS_MORE:-$((2 * SPAWNS))}
FORKS_MORE=${FORKS_MORE:-$((FORKS + FORKS / 2))}
PY_MORE=${PY_MORE:-$((2 * PY))}
TARGETS_MORE=${TARGETS_MORE:-$((10 * TARGETS))}
# What an older kernel runs, forced here: 5.10 has no task storage (a hash
# keyed by tid instead) and no bpf_loop.
FALLBACKS="--force-fallback map:task_storage --disable-probe helper:bpf_loop"

cd "$(dirname "$0")/.."
root=$PWD

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: spawntrace loads BPF programs (CAP_BPF, CAP_PERFMON)"
USAGE_RUNS=${USAGE_RUNS:-$RUNS}
for v in RUNS SPAWNS FORKS MIB PY TARGETS BIG RECS RECS_BIG USAGE_RUNS SPAWNS_MORE FORKS_MORE PY_MORE TARGETS_MORE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
CC=${CC:-cc}
[ -x "$GO" ] || command -v "$GO" >/dev/null || die "no go toolchain (set GO=)"
command -v "$CC" >/dev/null || die "no C compiler (set CC=)"

tmp=$(mktemp -d /tmp/spawntrace-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

log "bench: building bin/spawntrace and the workloads"
mkdir -p bin
make --no-print-directory build GO="$GO" >&2 # as `make build`: version stamped
for w in posix_spawn fork_exec; do
	"$CC" -O2 -Wall -o "$tmp/$w" "testdata/workloads/$w.c"
done
"$CC" -O2 -Wall -o "$tmp/timeit" testdata/timeit.c
"$CC" -O2 -Wall -o "$tmp/sysloop" testdata/sysloop.c

strace=$(command -v strace || true)
[ -n "$strace" ] || log "bench: strace not found; its rows will say n/a (apt-get install strace)"
perf=$(command -v perf || true)
[ -n "$perf" ] || log "bench: perf not found; its rows will say n/a (apt-get install linux-perf)"
python=$(command -v /usr/bin/python3 || command -v python3 || true)

# make_tree N: in $tmp/make.N, a make tree of N tiny phony targets, each
# with one recipe line (make runs it directly: one spawn, one exec).
# Pattern rules do not apply to phony targets, so each gets its own rule.
make_tree() {
	local n=$1 i
	mkdir -p "$tmp/make.$n"
	{
		printf 'all:'
		for ((i = 0; i < n; i++)); do printf ' t%d' "$i"; done
		printf '\n.PHONY: all'
		for ((i = 0; i < n; i++)); do printf ' t%d' "$i"; done
		printf '\n'
		for ((i = 0; i < n; i++)); do printf 't%d:\n\t@/bin/true %d\n' "$i" "$i"; done
	} >"$tmp/make.$n/Makefile"
}
make_tree "$TARGETS"
make_tree "$TARGETS_MORE"

# Runs go round-robin (untraced, spawntrace, strace, untraced, ...) rather
# than all runs of one command in a row (as hyperfine does): on a shared or
# throttled machine, load that comes and goes then hits every column alike.

# run_us CMD...: run CMD once, output discarded; print its wall time in µs.
run_us() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 </dev/null || die "failed (exit $?): $*"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

# run_pair TRACER... -- CMD...: run TRACER... timeit CMD... once; print the
# whole run's wall time and the workload's own (timeit's, inside the
# tracer) in µs: the difference is the tracer's start-up and shut-down.
run_pair() {
	local pre=() outer
	while [ "$1" != "--" ]; do pre+=("$1"); shift; done
	shift
	rm -f "$tmp/inner"
	outer=$(run_us "${pre[@]}" "$tmp/timeit" "$tmp/inner" "$@")
	echo "$outer $(cat "$tmp/inner")"
}

# bench_workload LABEL CMD...: RUNS rounds of the three ways to run CMD;
# appends "LABEL|MODE<TAB>median<TAB>min<TAB>max<TAB>workload median" (seconds)
# "<TAB>whole ratio<TAB>workload ratio" (round by round to the untraced run,
# medians) to $tmp/results.
bench_workload() {
	local label=$1
	shift
	local modes=("untraced" "spawntrace -c" "spawntrace -c --spawns-only" "spawntrace -c --pprof" "spawntrace -c, 5.10's way"
		"spawntrace -c --backend ptrace")
	[ -n "$strace" ] && modes+=("strace -f -c -w")
	[ -n "$perf" ] && modes+=("perf trace -s")
	local i k m us
	# Each round starts one mode later than the one before, so that no
	# mode always runs right after the same one (strace's and perf's heavy
	# runs leave the machine warm, or busy, for what follows).
	for ((i = 1; i <= RUNS; i++)); do
		for ((k = 0; k < ${#modes[@]}; k++)); do
			m=$(((k + i - 1) % ${#modes[@]}))
			case ${modes[m]} in
			untraced) us=$(run_pair -- "$@") ;;
			"spawntrace -c") us=$(run_pair "$root/bin/spawntrace" -c --backend bpf -- "$@") ;;
			"spawntrace -c --spawns-only") us=$(run_pair "$root/bin/spawntrace" -c --backend bpf --spawns-only -- "$@") ;;
			"spawntrace -c --pprof") us=$(run_pair "$root/bin/spawntrace" -c --backend bpf --pprof "$tmp/pprof" -- "$@") ;;
			"spawntrace -c, 5.10's way") us=$(run_pair "$root/bin/spawntrace" -c --backend bpf $FALLBACKS -- "$@") ;;
			"spawntrace -c --backend ptrace") us=$(run_pair "$root/bin/spawntrace" -c --backend ptrace -- "$@") ;;
			strace*) us=$(run_pair "$strace" -f -c -w -o /dev/null -- "$@") ;;
			perf*) us=$(run_pair "$perf" trace -s -o /dev/null -- "$@") ;;
			esac
			echo "$us" >>"$tmp/times.$m"
			log "bench: $label, ${modes[m]}, run $i/$RUNS: $(awk -v u="$us" 'BEGIN { split(u, t, " "); printf "%.3f s (workload %.3f s)", t[1] / 1e6, t[2] / 1e6 }')"
		done
	done
	# Medians of the whole run and of the workload's own time, each over
	# the runs on its own, and the medians of each round's ratio to the
	# untraced run of the same round (line i of times.M is round i): a
	# spell where the machine ran slow or fast then moves both sides of a
	# ratio, not one median.
	for m in "${!modes[@]}"; do
		awk '{ print $1 }' "$tmp/times.$m" | sort -n >"$tmp/outer"
		awk '{ print $2 }' "$tmp/times.$m" | sort -n >"$tmp/inner"
		paste "$tmp/times.0" "$tmp/times.$m" | awk '{ print $3 / $1, $4 / $2 }' >"$tmp/ratios"
		awk '{ print $1 }' "$tmp/ratios" | sort -g >"$tmp/outer.ratio"
		awk '{ print $2 }' "$tmp/ratios" | sort -g >"$tmp/inner.ratio"
		paste "$tmp/outer" "$tmp/inner" "$tmp/outer.ratio" "$tmp/inner.ratio" | awk -v n="$label|${modes[m]}" '
			function mid(a) { return NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }
			{ t[NR] = $1 / 1e6; w[NR] = $2 / 1e6; rt[NR] = $3; rw[NR] = $4 }
			END { printf "%s\t%.6f\t%.6f\t%.6f\t%.6f\t%.4f\t%.4f\n", n, mid(t), t[1], t[NR], mid(w), mid(rt), mid(rw) }' >>"$tmp/results"
	done
	rm -f "$tmp"/times.*
	[ -n "$strace" ] || printf '%s\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\n' "$label|strace -f -c -w" >>"$tmp/results"
}

# usage LABEL CMD... [-- CMD...]: spawntrace's own CPU time (user+sys, its
# process, not the workload) and peak RSS running CMD, and after -- the
# same workload at a larger size, in USAGE_RUNS rounds (RUNS unless set),
# each a run of each size under -c -w (the recording gives its CPU, its
# peak RSS and the spawn count), under -c and under --spawns-only -c (-v's
# CPU, taken as the run ends). Appends a row a size to $tmp/usage,
# "LABEL<TAB>spawns<TAB>-w cpu s<TAB>peak RSS MiB<TAB>-c cpu s<TAB>
# --spawns-only -c cpu s", each the median of its runs (RSS the largest).
# The rows of one LABEL, in order, are one workload at its size and at a
# larger one (a later call may add the larger): the table's CPU per spawn
# is their difference over the difference in spawns, so that start-up and
# shut-down cancel out. Taking the /bin/true row's CPU off one size instead
# left start-up's noise in, most of the figure at 2000 spawns (even
# negative).
usage() {
	local label=$1 i s
	shift
	local small=() large=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do small+=("$1"); shift; done
	[ $# -gt 0 ] && shift && large=("$@")
	rm -f "$tmp"/usage.[01].*
	for ((i = 1; i <= USAGE_RUNS; i++)); do
		usage_round 0 "${small[@]}"
		[ ${#large[@]} -eq 0 ] || usage_round 1 "${large[@]}"
	done
	for s in 0 1; do
		[ -s "$tmp/usage.$s.w" ] || continue
		sort -t"$(printf '\t')" -k2,2n "$tmp/usage.$s.w" | awk -F'\t' -v label="$label" \
			-v c="$(median "$tmp/usage.$s.c")" -v so="$(median "$tmp/usage.$s.so")" '
			{ n[NR] = $1; cpu[NR] = $2; if ($3 > rss) rss = $3 }
			END { m = int((NR + 1) / 2); printf "%s\t%d\t%.6f\t%.1f\t%s\t%s\n", label, n[m], cpu[m], rss, c, so }' >>"$tmp/usage"
	done
	rm -f "$tmp"/usage.[01].*
}

# usage_round SIZE CMD...: one run of CMD under each of usage's three ways,
# appended to $tmp/usage.SIZE.w (spawns, CPU s, peak RSS MiB), .c and .so
# (CPU s).
usage_round() {
	local s=$1
	shift
	"$root/bin/spawntrace" -c -w "$tmp/usage.json" -- "$@" >/dev/null 2>&1 </dev/null ||
		die "failed (exit $?): spawntrace -w ... $*"
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
t = r.get("tracer") or {}
spawns = sum(1 for e in r["events"] if e.get("kind") == "syscall" and e.get("nr") in (56, 57, 58, 435) and e.get("ret", 0) > 0)
print("%d\t%.6f\t%.1f" % (spawns, t.get("cpu_ns", 0) / 1e9, t.get("max_rss_bytes", 0) / 2**20))' \
		"$tmp/usage.json" >>"$tmp/usage.$s.w"
	own_cpu -c -- "$@" >>"$tmp/usage.$s.c"
	own_cpu --spawns-only -c -- "$@" >>"$tmp/usage.$s.so"
}

# own_cpu FLAGS...: spawntrace's own CPU time in seconds as -v gives it,
# one run.
own_cpu() {
	local cpu
	"$root/bin/spawntrace" -v --backend bpf "$@" >/dev/null 2>"$tmp/own.err" </dev/null ||
		die "failed (exit $?): spawntrace $*"
	cpu=$(sed -n 's/.*tracer.s own use while recording: \([0-9.]*\) s CPU.*/\1/p' "$tmp/own.err")
	[ -n "$cpu" ] || die "spawntrace -v $* said nothing of its own CPU"
	echo "$cpu"
}

# median FILE: the median of FILE's numbers, one a line (the lower of the
# middle two).
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$tmp/results"
: >"$tmp/usage"
# The first usage row is start-up alone.
usage "/bin/true (start-up and shut-down)" /bin/true
# Warm up: page cache, BPF object, dynamic loader.
for c in "$tmp/posix_spawn 10" "$tmp/fork_exec 10"; do
	run_us $c >/dev/null
	run_us "$root/bin/spawntrace" -c -- $c >/dev/null
done
bench_workload "posix_spawn /bin/true x$SPAWNS" "$tmp/posix_spawn" "$SPAWNS"
# Its larger size is BIG, the memory run's, below.
usage "posix_spawn /bin/true" "$tmp/posix_spawn" "$SPAWNS"
bench_workload "fork+exec x$SPAWNS, small parent" "$tmp/fork_exec" "$SPAWNS" 0
usage "fork+exec, small parent" "$tmp/fork_exec" "$SPAWNS" 0 -- "$tmp/fork_exec" "$SPAWNS_MORE" 0
bench_workload "fork+exec x$FORKS, ${MIB} MiB parent" "$tmp/fork_exec" "$FORKS" "$MIB"
usage "fork+exec, ${MIB} MiB parent" "$tmp/fork_exec" "$FORKS" "$MIB" -- "$tmp/fork_exec" "$FORKS_MORE" "$MIB"
# py_cmd N: python3 running /bin/true N times by subprocess.
py_cmd() { printf 'import subprocess\nfor _ in range(%d): subprocess.run(["/bin/true"])\n' "$1"; }
if [ -n "$python" ]; then
	bench_workload "python3 subprocess x$PY" "$python" -c "$(py_cmd "$PY")"
	usage "python3 subprocess" "$python" -c "$(py_cmd "$PY")" -- "$python" -c "$(py_cmd "$PY_MORE")"
fi
bench_workload "make -j2, $TARGETS targets" make -s -j2 -C "$tmp/make.$TARGETS"
usage "make -j2" make -s -j2 -C "$tmp/make.$TARGETS" -- make -s -j2 -C "$tmp/make.$TARGETS_MORE"

# Spawn stacks: the kernel copies each spawner's stack (for unwinding by
# CFI past code without frame pointers) only when stacks are kept (-w,
# --pprof). posix_spawn x$SPAWNS, round-robin: untraced, spawntrace -c
# (stacks off: the default) and spawntrace -c -w (stacks on: copied,
# unwound, saved), timed as above, with spawntrace's own CPU (-v); then one
# -w JSON run for the copies' ring bytes and the unwinding time.
bench_stacks() {
	local i m us cpu
	local modes=("untraced" "spawntrace -c" "spawntrace -c -w")
	for ((i = 1; i <= RUNS; i++)); do
		for m in "${!modes[@]}"; do
			rm -f "$tmp/inner"
			case ${modes[m]} in
			untraced) us=$(run_pair -- "$tmp/posix_spawn" "$SPAWNS") cpu=0 ;;
			*)
				local flags=(-c -v --backend bpf)
				[ "${modes[m]}" = "spawntrace -c -w" ] && flags+=(-w "$tmp/stacks.strec")
				local t0 t1
				t0=$(date +%s%N)
				"$root/bin/spawntrace" "${flags[@]}" -- "$tmp/timeit" "$tmp/inner" "$tmp/posix_spawn" "$SPAWNS" \
					>/dev/null 2>"$tmp/stacks.err" </dev/null || die "failed (exit $?): spawntrace ${flags[*]}"
				t1=$(date +%s%N)
				us="$(((t1 - t0) / 1000)) $(cat "$tmp/inner")"
				cpu=$(sed -n 's/.*tracer.s own use while recording: \([0-9.]*\) s CPU.*/\1/p' "$tmp/stacks.err")
				;;
			esac
			echo "$us ${cpu:-0}" >>"$tmp/stacks.$m"
			log "bench: stacks, ${modes[m]}, run $i/$RUNS: $us µs, spawntrace CPU ${cpu:-0} s"
		done
	done
	for m in "${!modes[@]}"; do
		# Each column's median on its own, as bench_workload's.
		local col
		for col in 1 2 3; do awk -v c="$col" '{ print $c }' "$tmp/stacks.$m" | sort -n >"$tmp/stacks.col$col"; done
		paste "$tmp/stacks.col1" "$tmp/stacks.col2" "$tmp/stacks.col3" | awk -v n="${modes[m]}" '
			{ t[NR] = $1 / 1e6; w[NR] = $2 / 1e6; c[NR] = $3 }
			END {
				i = int((NR + 1) / 2)
				printf "%s\t%.6f\t%.6f\t%.6f\t%.6f\t%.3f\n", n, t[i], t[1], t[NR], w[i], c[i]
			}' >>"$tmp/stacks.results"
	done
	"$root/bin/spawntrace" -c -w "$tmp/stacks.json" -- "$tmp/posix_spawn" "$SPAWNS" >/dev/null 2>&1 </dev/null ||
		die "failed (exit $?): spawntrace -c -w ... posix_spawn"
	stacks_line=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
t = r.get("tracer") or {}
n = max(1, t.get("stack_copies", 0))
print("%d stacks copied, %.0f bytes per spawn in the ring (besides the spawn record'"'"'s 1304), at most %d of a copy read by an unwind; %d unwound, %.1f µs each (the symbolizer goroutine, wall)" %
      (t.get("stack_copies", 0), t.get("stack_copy_bytes", 0) / n, t.get("stack_bytes_read_max", 0), t.get("stacks_unwound", 0), t.get("unwind_ns", 0) / 1e3 / max(1, t.get("stacks_unwound", 0))))' "$tmp/stacks.json")
}
: >"$tmp/stacks.results"
bench_stacks

# Memory on a long run: spawntrace's peak RSS at BIG spawns against
# SPAWNS (it spills events to disk; what grows is the summary's rows),
# and posix_spawn's larger size for its CPU per spawn: 48 000 spawns more
# than SPAWNS leave start-up's noise (its -c CPU spans ~25 ms) under 1 µs
# a spawn with one run each (a minute a run), at no cost beyond the memory
# run, where 10 000 spawns, USAGE_RUNS runs of each mode, would add ~2
# minutes for 3 times the noise.
USAGE_RUNS=1 usage "posix_spawn /bin/true" "$tmp/posix_spawn" "$BIG"

# One syscall's cost: untraced, under empty programs on the same raw
# tracepoints (what any such tracer pays), under spawntrace. Medians of RUNS.
sys_ns() { local v=(); for ((i = 1; i <= RUNS; i++)); do v+=("$("$@" 2>/dev/null </dev/null | tail -1)"); done; printf '%s\n' "${v[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }
sys_untraced=$(sys_ns "$tmp/sysloop" 2000000)
sys_floor=$(sys_ns "$root/bin/spawntrace" __syscall-floor -- "$tmp/sysloop" 2000000)
sys_traced=$(sys_ns "$root/bin/spawntrace" -c -- "$tmp/sysloop" 2000000)
sys_spawns_only=$(sys_ns "$root/bin/spawntrace" -c --spawns-only -- "$tmp/sysloop" 2000000)
# shellcheck disable=SC2086 # one flag a word
sys_fallbacks=$(sys_ns "$root/bin/spawntrace" -c $FALLBACKS -- "$tmp/sysloop" 2000000)
# ... and of a process spawntrace does not trace, while it traces another:
# what the rest of the machine pays, with task storage and 5.10's way.
sys_other() {
	"$root/bin/spawntrace" -c "$@" -- sleep 1000 >/dev/null 2>&1 </dev/null &
	local pid=$! ns
	sleep 1
	ns=$(sys_ns "$tmp/sysloop" 2000000)
	kill -INT $pid
	wait $pid || true
	echo "$ns"
}
sys_other_traced=$(sys_other)
# shellcheck disable=SC2086
sys_other_fallbacks=$(sys_other $FALLBACKS)

# Fixed cost: loading and attaching before the workload starts, detaching
# after. Tens of ms, so at least 10 runs, rotating with /bin/true
# untraced (what is not spawntrace's).
startup_runs=$((RUNS > 10 ? RUNS : 10))
fixed=()
bare=()
for ((i = 1; i <= startup_runs; i++)); do
	bare+=("$(run_us /bin/true)")
	fixed+=("$(run_us "$root/bin/spawntrace" -c -- /bin/true)")
done
# median_ms US...: the median and the range, in ms.
median_ms() { printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 / 1e3 } END { printf "%.1f ms (%.1f-%.1f)", NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2, t[1], t[NR] }'; }
fixed_med=$(median_ms "${fixed[@]}")
bare_med=$(median_ms "${bare[@]}")
startup_load=$(cut -d' ' -f1 /proc/loadavg)

# Copy time two ways on one run: spawntrace's sum of dup_mmap holds, and
# perf's samples under copy_page_range (cumulative) at its sampling rate.
copy_line="n/a (perf not found)"
if [ -n "$perf" ]; then
	"$perf" record -q -a -g -F 999 -o "$tmp/perf.data" -- \
		"$root/bin/spawntrace" -c -w "$tmp/fork.json" -- "$tmp/fork_exec" 20 1024 >/dev/null 2>&1 </dev/null ||
		die "perf record of the fork workload failed"
	st_ms=$(python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print("%.1f" % (sum(e.get("copy_ns", 0) for e in r["events"] if e.get("kind") == "syscall") / 1e6))' "$tmp/fork.json")
	# All samples, then copy_page_range's cumulative share of them.
	total=$("$perf" report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none -n 2>/dev/null |
		awk '!/^#/ && NF >= 3 { n += $2 } END { print n + 0 }')
	share=$("$perf" report -i "$tmp/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
		awk '/\[k\] copy_page_range$/ && !done { sub("%", "", $1); print $1; done = 1 }')
	perf_ms=$(awk -v t="$total" -v p="${share:-0}" 'BEGIN { printf "%.1f", t * p / 100 / 999 * 1000 }')
	copy_line="spawntrace: ${st_ms} ms of address-space copy over 20 forks from a 1 GiB parent; perf record: ${perf_ms:-?} ms of samples under copy_page_range (at 999 Hz)"
fi

# report -c and report (the whole summary) of saved recordings: synthetic
# spawns (synthrec: no root, no workload), binary and, for the smaller, the
# JSON export. Median wall and CPU time of RUNS (CPU, user and system,
# tells more than wall on a shared machine), the largest peak RSS
# (python3's getrusage of its child).
"$GO" build -o "$tmp/synthrec" ./analyze/internal/synth/synthrec
rec_rows=()
for spec in "binary $RECS strec" "binary $RECS_BIG strec" "JSON $RECS json"; do
	read -r enc n ext <<<"$spec"
	log "bench: writing a recording of $n synthetic spawns ($enc)"
	"$tmp/synthrec" -n "$n" -o "$tmp/rec.$ext"
	mib=$(du -m "$tmp/rec.$ext" | cut -f1)
	for cmd in "report -c" "report"; do
		: >"$tmp/rec.times"
		for ((i = 1; i <= RUNS; i++)); do
			# shellcheck disable=SC2086 # $cmd is the subcommand and its flag
			python3 -c 'import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int((time.monotonic() - t) * 1e6), u.ru_maxrss, int((u.ru_utime + u.ru_stime) * 1e6))' \
				"$root/bin/spawntrace" $cmd "$tmp/rec.$ext" >>"$tmp/rec.times" || die "$cmd of $n spawns ($enc) failed"
			log "bench: $cmd, $enc, $n spawns, run $i/$RUNS: $(tail -1 "$tmp/rec.times")"
		done
		cpu=$(awk '{ print $3 }' "$tmp/rec.times" | sort -n | awk '{ c[NR] = $1 / 1e6 } END { printf "%.3f", NR % 2 ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2 }')
		rec_rows+=("$(sort -n "$tmp/rec.times" | awk -v e="$enc" -v n="$n" -v mib="$mib" -v cmd="$cmd" -v cpu="$cpu" '
			{ t[NR] = $1 / 1e6; if ($2 > rss) rss = $2 }
			END { printf "| %s | %s | %d | %d | %.3f | %.3f-%.3f | %s | %.1f |", cmd, e, n, mib, NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2, t[1], t[NR], cpu, rss / 1024 }')")
	done
	rm -f "$tmp/rec.$ext"
done
# The same loading in-process (BenchmarkLoad: Load, report -c's work, and
# Load plus Summarize, the full report's), without process start-up.
log "bench: BenchmarkLoad, $RECS spawns"
load_bench=$("$GO" test -run '^$' -bench "BenchmarkLoad/$RECS\\.strec/" -benchtime "${RUNS}x" ./analyze/recording/ -spawns "$RECS" |
	awk '/^BenchmarkLoad/ { sub(/^BenchmarkLoad\//, "", $1); sub(/-[0-9]+$/, "", $1); printf "%s%s %.3f s", sep, $1, $3 / 1e9; sep = ", " }')

# The table, on stdout.
echo "Median wall time of $RUNS runs; $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d)."
echo
echo "Whole run: the tracer's command line, start to exit. Workload: the same runs timed inside the tracer"
echo "(testdata/timeit.c), without the tracer's start-up and shut-down. vs untraced: the median of each"
echo "round's ratio to the untraced run of the same round (the modes take turns within a round)."
echo
echo "| workload | traced by | whole run (s) | min-max (s) | vs untraced | workload (s) | vs untraced |"
echo "|---|---|---:|---:|---:|---:|---:|"
awk -F'\t' '
	{
		split($1, k, "|")
		if ($2 == "n/a") { printf "| %s | %s | n/a | n/a | n/a | n/a | n/a |\n", (k[1] == last ? "" : k[1]), k[2]; last = k[1]; next }
		printf "| %s | %s | %.3f | %.3f-%.3f | %.2fx | %.3f | %+.1f%% |\n", (k[1] == last ? "" : k[1]), k[2], $2, $3, $4, $6, $5, ($7 - 1) * 100
		last = k[1]
	}' "$tmp/results"
echo
echo "spawntrace's own CPU time and peak RSS (its process, not the workload; under -w) at the workload's size"
echo "and at a larger one, and its CPU per spawn with -w, -c and --spawns-only -c: the difference in its CPU"
echo "between the two sizes over the difference in spawns, so that start-up and shut-down (the /bin/true row)"
echo "cancel out. Medians of $USAGE_RUNS interleaved runs of each size and mode; posix_spawn's larger size is"
echo "the x$BIG memory run, one run each:"
echo
echo "| workload | spawns | spawntrace CPU (s) | tracer CPU per spawn -w (µs) | -c (µs) | --spawns-only -c (µs) | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '
	!($1 in at) { order[++n] = $1; at[$1] = NR }
	$1 in at && at[$1] != NR { more[$1] = NR }
	{ for (f = 2; f <= 6; f++) v[NR, f] = $f }
	END {
		for (j = 1; j <= n; j++) {
			a = at[order[j]]
			if (!(order[j] in more)) {
				printf "| %s | %d | %.3f | - | - | - | %.1f |\n", order[j], v[a, 2], v[a, 3], v[a, 4]
				continue
			}
			b = more[order[j]]
			dn = v[b, 2] - v[a, 2]
			for (f = 3; f <= 6; f++) per[f] = dn > 0 ? sprintf("%.1f", (v[b, f] - v[a, f]) / dn * 1e6) : "-"
			printf "| %s | %d / %d | %.3f / %.3f | %s | %s | %s | %.1f / %.1f |\n", order[j], v[a, 2], v[b, 2], v[a, 3], v[b, 3],
				per[3], per[5], per[6], v[a, 4], v[b, 4]
		}
	}' "$tmp/usage"
echo
echo "One syscall (getppid, testdata/sysloop.c; the thread's CPU time), median of $RUNS: untraced $sys_untraced ns; with empty programs on"
echo "raw_syscalls sys_enter/sys_exit $sys_floor ns (the kernel's traced path, paid by any such tracer); under"
echo "spawntrace $sys_traced ns; under spawntrace --spawns-only $sys_spawns_only ns; under spawntrace as on 5.10"
echo "($FALLBACKS) $sys_fallbacks ns. Not traced, while spawntrace traces another process: $sys_other_traced ns,"
echo "as on 5.10 $sys_other_fallbacks ns."
echo
echo "Spawn stacks, posix_spawn /bin/true x$SPAWNS (median of $RUNS; spawntrace's CPU from -v):"
echo
echo "| traced by | whole run (s) | min-max (s) | workload (s) | vs untraced | spawntrace CPU (s) |"
echo "|---|---:|---:|---:|---:|---:|"
awk -F'\t' '
	$1 == "untraced" { wbase = $5 }
	{ printf "| %s | %.3f | %.3f-%.3f | %.3f | %+.1f%% | %.3f |\n", $1, $2, $3, $4, $5, ($5 / wbase - 1) * 100, $6 }' "$tmp/stacks.results"
echo
echo "Stacks on (-w): $stacks_line; against stacks off: $(awk -F'\t' -v n="$SPAWNS" '
	$1 == "spawntrace -c" { w0 = $5; c0 = $6 }
	$1 == "spawntrace -c -w" { w1 = $5; c1 = $6 }
	END { printf "the workload %+.1f%% (%+.1f µs per spawn), spawntrace CPU %+.1f µs per spawn", (w1 / w0 - 1) * 100, (w1 - w0) / n * 1e6, (c1 - c0) / n * 1e6 }' "$tmp/stacks.results")"
echo
echo "spawntrace's start-up and shut-down (\`spawntrace -c -- /bin/true\`, median of $startup_runs, min-max): $fixed_med;"
echo "\`/bin/true\` untraced in the same rounds: $bare_med; load average $startup_load."
echo
echo "Copy time, measured two ways on one run: $copy_line"
echo
echo "\`spawntrace report -c\` and \`spawntrace report\` of a saved recording of synthetic spawns"
echo "(analyze/internal/synth/synthrec), median wall and CPU time of $RUNS runs and the largest peak RSS:"
echo
echo "| command | recording | spawns | file (MiB) | wall (s) | min-max (s) | CPU (s) | peak RSS (MiB) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rec_rows[@]}"
echo
echo "In-process (go test -bench BenchmarkLoad -spawns $RECS, mean of $RUNS): ${load_bench:-failed}."
