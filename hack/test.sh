#!/usr/bin/env bash
# The test command (README: `hack/test.sh` as root, or `make test`): installs
# what is missing, builds, runs the unit tests, then the end-to-end tests.
# The e2e tests start everything they need themselves (a private
# containerd, a registry on loopback, one daemon per test) and stop it
# again; this script only adds a last-resort cleanup for a test binary that
# died before its own cleanup ran (go test's -timeout panics past defers).
#
# usage: hack/test.sh [all|unit|e2e|bench]     (default all)
#   bench: the benchmarks (Go benchmarks of the probers, the probe load bench
#   and the pod bench against a real containerd, then docs/benchmarks.png);
#   they print figures, never fail on time.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

what=${1:-all}
case $what in
all | unit | e2e | bench) ;;
*) die "usage: $0 [all|unit|e2e|bench]" ;;
esac

ensure_go
if is_root; then
	ensure_packages
	ensure_kubectl
else
	log "not root: installing nothing; the e2e tests will skip (they need root)"
fi
build

E2E_DIR=
cleanup() {
	local rc=$?
	if [[ -n $E2E_DIR && -d $E2E_DIR ]]; then
		# Anything still mentioning the directory is ours: daemons
		# (--state-dir), containerd (--config), shims (-address).
		local pids
		pids=$(pids_mentioning "$E2E_DIR")
		if [[ -n $pids ]]; then
			log "killing leftover e2e processes: $(echo $pids)"
			# shellcheck disable=SC2086
			kill -9 $pids 2>/dev/null || true
		fi
		kill_runc_containers "$E2E_DIR"
		unmount_under "$E2E_DIR"
		# The harness lists the pod UIDs it saw there.
		if [[ -f $E2E_DIR/pod-uids ]]; then
			mapfile -t uids <"$E2E_DIR/pod-uids"
			remove_pod_cgroups "${uids[@]}"
		fi
		rm -rf "$E2E_DIR" 2>/dev/null || log "could not remove $E2E_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rc=0
if [[ $what == all || $what == unit ]]; then
	log "unit tests"
	# Unit tests need neither root nor containerd.
	mapfile -t pkgs < <(go list ./... | grep -v '/test/e2e$')
	# Bounded well below go test's 10m default: a hung unit test must not eat
	# the CI budget.
	go test -timeout 4m "${pkgs[@]}" || rc=1
	log "fuzzing the manifest parser (short run)"
	go test -run '^$' -fuzz '^FuzzParseFile$' -fuzztime 15s ./internal/manifest/ || rc=1
fi

if [[ $what == all || $what == e2e ]]; then
	log "end-to-end tests"
	# A short path: unix socket paths must stay under 108 bytes.
	E2E_DIR=$(mktemp -d /tmp/mkle2e.XXXXXX)
	MINIKUBELET_E2E=1 MINIKUBELET_E2E_DIR=$E2E_DIR MINIKUBELET_E2E_BIN=$REPO_ROOT/bin \
		go test -count=1 -v -timeout 15m ./test/e2e/ ./internal/ocibuild/ || rc=1
fi

if [[ $what == bench ]]; then
	log "prober benchmarks (in-process loopback servers)"
	go test -run '^$' -bench 'BenchmarkProbe' -benchmem -count 3 ./internal/prober/ || rc=1
	log "probe load bench (100 containers on a private containerd)"
	E2E_DIR=$(mktemp -d /tmp/mkle2e.XXXXXX)
	MINIKUBELET_E2E=1 MINIKUBELET_BENCH=1 MINIKUBELET_E2E_DIR=$E2E_DIR MINIKUBELET_E2E_BIN=$REPO_ROOT/bin \
		go test -count=1 -v -timeout 30m -run 'TestBenchProbeLoad' ./test/e2e/ || rc=1
	log "pod bench: start latency against the containerd floor (bench/floor), deletion, daemon RSS/CPU, memory per pod, peak RSS on hostile manifests"
	mkdir -p _output && rm -f _output/start-latency.json
	MINIKUBELET_E2E=1 MINIKUBELET_BENCH=1 MINIKUBELET_E2E_DIR=$E2E_DIR MINIKUBELET_E2E_BIN=$REPO_ROOT/bin \
		MINIKUBELET_BENCH_OUT=$REPO_ROOT/_output/start-latency.json \
		go test -count=1 -v -timeout 30m -run 'TestBenchPods|TestBenchStartTrace|TestBenchHostileManifests' ./test/e2e/ || rc=1
	if [[ -s _output/start-latency.json ]]; then
		log "chart: docs/benchmarks.png"
		go run ./bench/chart -in _output/start-latency.json -out docs/benchmarks.png || rc=1
	fi
fi

if ((rc == 0)); then
	log "all tests passed"
else
	log "tests FAILED"
fi
exit "$rc"
