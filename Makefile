# spawntrace: `make` builds, `make test` runs every check (as root for the
# BPF tests), `make demo` traces a real workload, `make bench` measures overhead.

GO      ?= go
BIN     := bin/spawntrace
export CGO_ENABLED := 0

# One LLVM major version compiles and formats bpf/: another gives a different
# object (and layout), so check-generated would fail for no change. 14 is
# Debian 12's.
LLVM_MAJOR := 14
# bpf2go takes its compiler from BPF2GO_CC, and llvm-strip-14 for a clang-14.
export BPF2GO_CC ?= clang-$(LLVM_MAJOR)
CLANG_FORMAT ?= clang-format-$(LLVM_MAJOR)

# Debian packages the tests and benchmarks use; `make deps` installs the missing ones.
DEB_PKGS := clang-$(LLVM_MAJOR) llvm-$(LLVM_MAJOR) clang-format-$(LLVM_MAJOR) libbpf-dev linux-libc-dev strace binutils gcc gcc-multilib libc6-dev libc6-dbg make python3 linux-perf hyperfine chromium rustc
# make kernels' (without recommends: qemu's add a GTK display and its libraries).
DEB_PKGS_BARE := qemu-system-x86 busybox-static cpio

.PHONY: all build generate check-generated check-clang deps vet tidy lint fmt-bpf unit race test kernels fuzz bench demo clean

all: build

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo devel)

build:
	$(GO) build -trimpath -ldflags "-X main.buildVersion=$(VERSION)" -o $(BIN) ./cmd/spawntrace

# Rebuild what is generated; commit the result. First the syscall tables
# (tracer/sysno and bpf/sysno.h, from linux-libc-dev's asm/unistd_*.h),
# then the BPF object and its Go loader, which include bpf/sysno.h.
GENERATED := tracer/sysno/zsysno_x86_64.go tracer/sysno/zsysno_i386.go bpf/sysno.h \
	tracer/spawntrace_x86_bpfel.go tracer/spawntrace_x86_bpfel.o
generate: check-clang
	cd tracer && $(GO) generate ./sysno && $(GO) generate .

# Fails unless $(BPF2GO_CC) is clang $(LLVM_MAJOR).
check-clang:
	@found=$$($(BPF2GO_CC) --version 2>/dev/null | head -1); \
	v=$$(echo "$$found" | sed -n 's/.*clang version \([0-9]*\)\..*/\1/p'); \
	[ "$$v" = "$(LLVM_MAJOR)" ] || { \
		echo "BPF2GO_CC=$(BPF2GO_CC) is '$${found:-not found}', want clang $(LLVM_MAJOR): another major version compiles bpf/"; \
		echo "to a different object, so the committed one cannot be checked or regenerated with it"; \
		echo "(Debian 12: apt-get install clang-$(LLVM_MAJOR) llvm-$(LLVM_MAJOR), or 'make deps')"; exit 1; }

# Fails when a committed generated file differs from what the sources give.
check-generated: check-clang
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	cp -r bpf tracer go.mod go.sum $$tmp/ && \
	(cd $$tmp/tracer && $(GO) generate ./sysno && $(GO) generate .) && \
	for f in $(GENERATED); do \
		cmp -s $$f $$tmp/$$f || { echo "$$f is stale: run 'make generate' and commit it"; exit 1; }; \
	done && echo "generated files are up to date"

deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	bare=""; for p in $(DEB_PKGS_BARE); do dpkg -s $$p >/dev/null 2>&1 || bare="$$bare $$p"; done; \
	if [ -n "$$missing$$bare" ]; then \
		echo "installing:$$missing$$bare"; \
		apt-get update -qq && \
		{ [ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } && \
		{ [ -z "$$bare" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bare >/dev/null; }; \
	fi

vet:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$fmt" ] || { echo "gofmt needed: $$fmt"; exit 1; }
	$(GO) vet -tags integration ./...

# Fails when go.mod or go.sum is not what `go mod tidy` makes of them.
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are untidy: run 'go mod tidy' and commit them"; exit 1; }

BPF_C := $(wildcard bpf/*.c bpf/*.h)

# gofmt and go vet, go mod tidy -diff, staticcheck (pinned as a tool in go.mod; per-directory
# exceptions in staticcheck.conf files), clang-format over bpf/ (bpf/.clang-format).
lint: vet tidy
	$(GO) tool staticcheck -tags integration ./...
	@found=$$($(CLANG_FORMAT) --version 2>/dev/null | head -1); \
	v=$$(echo "$$found" | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p'); \
	[ "$$v" = "$(LLVM_MAJOR)" ] || { echo "CLANG_FORMAT=$(CLANG_FORMAT) is '$${found:-not found}', want clang-format $(LLVM_MAJOR): another lays bpf/ out differently ('make deps' installs it)"; exit 1; }
	$(CLANG_FORMAT) --dry-run -Werror $(BPF_C)

# Reformat bpf/ in place; then `make generate` (the object's line info follows the source).
fmt-bpf:
	$(CLANG_FORMAT) -i $(BPF_C)

# Unit tests only: no root needed. The integration tests (root, real BPF,
# strace as the oracle) are cmd/spawntrace/integration, behind the
# `integration` build tag.
unit:
	$(GO) test -count=1 ./...

# The unit tests once under the race detector (it needs cgo; -short leaves
# out the memory tests of 200k events, which take minutes under it).
race:
	CGO_ENABLED=1 $(GO) test -race -short -count=1 ./...

# Everything: the unit and BPF integration tests (as root, against strace),
# the unit tests under the race detector, a short run of each fuzz test
# beyond its seed corpus, then the kernel matrix.
# The BPF integration package runs after the others, alone: its tests that
# check a finding against untraced runs measure CPU time, which another
# package's tests on the same 2 cores skew (a fork-copy claim 1.29x the
# untraced saving beside analyze/recording's tests, 0.97-1.01x alone).
INTEGRATION_PKG := ./cmd/spawntrace/integration
test: deps check-generated lint build
	$(GO) test -count=1 -timeout 30m -tags integration $$($(GO) list -tags integration ./... | grep -v '/cmd/spawntrace/integration$$')
	$(GO) test -count=1 -timeout 30m -tags integration $(INTEGRATION_PKG)
	$(MAKE) --no-print-directory race
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory kernels

# Boots Debian's 5.10, 6.1, 6.12 and 7.x kernels in qemu and runs spawntrace
# on a loop whose counts are known (testdata/kernels/kernels.sh: what each
# kernel is expected to do, and the knobs). Downloads are cached.
kernels: deps build
	GO=$(GO) bash testdata/kernels/kernels.sh

# A short run of each fuzz target beyond its seed corpus (seeds alone run in
# every go test): the recording loaders (JSON and binary), the report writers, compare, the
# copy-cost fit, the CFI parser and unwinder. Budgets are execution counts (~10 s each
# here), not -fuzztime durations: Go before 1.27 can fail a duration run with a spurious "context
# deadline exceeded" as the deadline fires (golang/go#75804); a count has no
# deadline to race. FUZZTIME=30s (or 1000x) overrides every target's budget.
FUZZ_TARGETS := analyze/recording:FuzzDecode:50000 analyze/recording:FuzzDecodeBinary:50000 analyze/summary:FuzzFitCopy:100000 reports:FuzzReport:10000 \
	reports:FuzzReportEvent:8000 reports:FuzzCompare:15000 reports:FuzzCompareEvent:5000 tracer/unwind:FuzzCFI:150000 tracer/unwind:FuzzExpr:150000 \
	tracer/unwind:FuzzNewTable:100000
fuzz:
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${rest#*:}x; \
		[ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); \
		echo "fuzz $$pkg $$fn ($$budget)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget ./$$pkg/ >$$log 2>&1 || \
			{ cat $$log; exit 1; }; \
	done

demo: build
	$(BIN) -- python3 -c 'import subprocess; [subprocess.run(["true"]) for _ in range(50)]'

bench: deps build
	bash testdata/bench.sh

clean:
	rm -rf bin
