#!/usr/bin/env bash
# Overhead benchmark (`make bench`): a posix_spawn workload and a fork
# workload from a large parent, each run untraced, under `spawntrace -c` and
# under `strace -f -c -w`, RUNS times each. Prints a markdown table of median
# wall times and their ratio to the untraced run on stdout; progress goes to
# stderr. Needs root (spawntrace loads BPF); uses hyperfine when installed.
#
# Knobs (environment): RUNS (5), SPAWNS (2000 posix_spawns), FORKS (2000
# forks), MIB (512, the fork workload's touched anonymous memory),
# HYPERFINE (its path; empty: time the runs with date instead).
# The defaults take about 15 minutes on 2 cores: a fork from a 512 MiB
# parent costs ~20 ms here, so the fork workload alone runs ~40 s per run.
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
hyperfine=${HYPERFINE-$(command -v hyperfine || true)}

# measure NAME CMD...: run CMD RUNS times, append "NAME<TAB>median<TAB>min<TAB>max"
# (seconds) to $tmp/results. The command's output is discarded; a non-zero
# exit fails the benchmark.
measure() {
	local name=$1
	shift
	log "bench: $name: $* ($RUNS runs)"
	if [ -n "$hyperfine" ]; then
		# -N: no intermediate shell; paths here have no spaces.
		"$hyperfine" -N --runs "$RUNS" --export-csv "$tmp/h.csv" "$*" >&2
		# command,mean,stddev,median,user,system,min,max
		awk -F, -v n="$name" 'NR == 2 { printf "%s\t%s\t%s\t%s\n", n, $4, $7, $8 }' "$tmp/h.csv" >>"$tmp/results"
		return
	fi
	local i t0 t1 times=()
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 </dev/null || die "$* failed (exit $?)"
		t1=$(date +%s%N)
		times+=("$(((t1 - t0) / 1000))")
		log "  run $((i + 1)): $(awk -v u="${times[-1]}" 'BEGIN { printf "%.3f s", u / 1e6 }')"
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" '
		{ t[NR] = $1 / 1e6 }
		END {
			m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			printf "%s\t%.6f\t%.6f\t%.6f\n", n, m, t[1], t[NR]
		}' >>"$tmp/results"
}

: >"$tmp/results"
workloads=(
	"posix_spawn /bin/true x$SPAWNS|$tmp/posix_spawn $SPAWNS"
	"fork+exec x$FORKS, ${MIB} MiB parent|$tmp/fork_exec $FORKS $MIB"
)
for wl in "${workloads[@]}"; do
	label=${wl%%|*}
	read -r -a cmd <<<"${wl#*|}"
	measure "$label|untraced" "${cmd[@]}"
	measure "$label|spawntrace -c" "$root/bin/spawntrace" -c -- "${cmd[@]}"
	if [ -n "$strace" ]; then
		measure "$label|strace -f -c -w" "$strace" -f -c -w -o /dev/null -- "${cmd[@]}"
	else
		printf '%s\tn/a\tn/a\tn/a\n' "$label|strace -f -c -w" >>"$tmp/results"
	fi
done

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
