#!/usr/bin/env bash
# Overhead benchmark (`make bench`): a posix_spawn workload and a fork
# workload from a large parent, each run untraced, under `spawntrace -c` and
# under `strace -f -c -w`, RUNS times each. Prints a markdown table of median
# wall times and their ratio to the untraced run on stdout; progress goes to
# stderr. Needs root (spawntrace loads BPF).
#
# Knobs (environment): RUNS (5), SPAWNS (2000 posix_spawns), FORKS (2000
# forks), MIB (512, the fork workload's touched anonymous memory).
# The defaults take 15-25 minutes on 2 cores: a fork from a 512 MiB parent
# costs 20-45 ms here, so each fork-workload run takes 40-90 s.
set -euo pipefail

RUNS=${RUNS:-5}
SPAWNS=${SPAWNS:-2000}
FORKS=${FORKS:-2000}
MIB=${MIB:-512}

cd "$(dirname "$0")/.."
root=$PWD

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: spawntrace loads BPF programs (CAP_BPF, CAP_PERFMON)"
for v in RUNS SPAWNS FORKS MIB; do
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
CGO_ENABLED=0 "$GO" build -o bin/spawntrace ./cmd/spawntrace
for w in posix_spawn fork_exec; do
	"$CC" -O2 -Wall -o "$tmp/$w" "testdata/workloads/$w.c"
done

strace=$(command -v strace || true)
[ -n "$strace" ] || log "bench: strace not found; its rows will say n/a (apt-get install strace)"

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

# bench_workload LABEL CMD...: RUNS rounds of the three ways to run CMD;
# appends "LABEL|MODE<TAB>median<TAB>min<TAB>max" (seconds) to $tmp/results.
bench_workload() {
	local label=$1
	shift
	local modes=("untraced" "spawntrace -c")
	[ -n "$strace" ] && modes+=("strace -f -c -w")
	local i m us
	for ((i = 1; i <= RUNS; i++)); do
		for m in "${!modes[@]}"; do
			case ${modes[m]} in
			untraced) us=$(run_us "$@") ;;
			spawntrace*) us=$(run_us "$root/bin/spawntrace" -c -- "$@") ;;
			strace*) us=$(run_us "$strace" -f -c -w -o /dev/null -- "$@") ;;
			esac
			echo "$us" >>"$tmp/times.$m"
			log "bench: $label, ${modes[m]}, run $i/$RUNS: $(awk -v u="$us" 'BEGIN { printf "%.3f s", u / 1e6 }')"
		done
	done
	for m in "${!modes[@]}"; do
		sort -n "$tmp/times.$m" | awk -v n="$label|${modes[m]}" '
			{ t[NR] = $1 / 1e6 }
			END {
				med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
				printf "%s\t%.6f\t%.6f\t%.6f\n", n, med, t[1], t[NR]
			}' >>"$tmp/results"
		rm -f "$tmp/times.$m"
	done
	[ -n "$strace" ] || printf '%s\tn/a\tn/a\tn/a\n' "$label|strace -f -c -w" >>"$tmp/results"
}

: >"$tmp/results"
# Warm up: page cache, BPF object, dynamic loader.
for c in "$tmp/posix_spawn 10" "$tmp/fork_exec 10"; do
	run_us $c >/dev/null
	run_us "$root/bin/spawntrace" -c -- $c >/dev/null
done
bench_workload "posix_spawn /bin/true x$SPAWNS" "$tmp/posix_spawn" "$SPAWNS"
bench_workload "fork+exec x$FORKS, ${MIB} MiB parent" "$tmp/fork_exec" "$FORKS" "$MIB"

# The table, on stdout.
echo "Median wall time of $RUNS runs; $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d)."
echo
echo "| workload | traced by | median (s) | min-max (s) | vs untraced |"
echo "|---|---|---:|---:|---:|"
awk -F'\t' '
	{
		split($1, k, "|")
		if (k[2] == "untraced") base = $2
		if ($2 == "n/a") { printf "| %s | %s | n/a | n/a | n/a |\n", (k[1] == last ? "" : k[1]), k[2]; last = k[1]; next }
		printf "| %s | %s | %.3f | %.3f-%.3f | %.2fx |\n", (k[1] == last ? "" : k[1]), k[2], $2, $3, $4, $2 / base
		last = k[1]
	}' "$tmp/results"
