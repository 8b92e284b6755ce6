#!/usr/bin/env bash
# The demo (README: `hack/demo.sh`, as root): builds minikubelet, starts the
# daemon in the background with its own embedded containerd, runs the pods
# of configs/manifests and shows them. `hack/demo.sh stop` removes the
# pods and stops everything again.
#
# usage: hack/demo.sh [start|stop|status]     (default start)
#
# Everything lives under $MINIKUBELET_DEMO_DIR (default
# /var/lib/minikubelet-demo): the state dir, the manifest dir (a copy of
# configs/manifests), the embedded containerd and the daemon's log.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DEMO_DIR=${MINIKUBELET_DEMO_DIR:-/var/lib/minikubelet-demo}
STATE_DIR=$DEMO_DIR/state
MANIFEST_DIR=$DEMO_DIR/manifests
SOCKET=${MINIKUBELET_DEMO_SOCKET:-/run/minikubelet/demo.sock}
LOG=$DEMO_DIR/daemon.log
PIDFILE=$DEMO_DIR/daemon.pid
NAMESPACE=minikubelet
# Where the daemon's embedded containerd listens (see internal/daemon).
EMBEDDED_SOCKET=$STATE_DIR/containerd/containerd.sock
# Nothing listens here, so the daemon starts its embedded containerd even
# on a machine that runs a system one: the demo never touches the latter.
NO_CONTAINERD=$DEMO_DIR/no-containerd.sock
IMAGE_REF=localhost/minikubelet/busybox:demo
IMAGE_ARCHIVE=$REPO_ROOT/_output/busybox-demo.tar
MKL=$REPO_ROOT/bin/minikubelet

export MINIKUBELET_SOCKET=$SOCKET

# daemon_pid prints the demo daemon's pid when it runs.
daemon_pid() {
	local pid
	[[ -f $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	# The pid must still be our daemon, not a reused number.
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--state-dir $STATE_DIR" || return 1
	echo "$pid"
}

# demo_pod_count: how many pods the demo manifests declare.
demo_pod_count() {
	cat "$MANIFEST_DIR"/*.yaml | grep -c '^kind: Pod'
}

# all_pods_up: true when the daemon reports every demo pod, each Running
# with all containers ready or Completed.
all_pods_up() {
	local out want
	want=$(demo_pod_count)
	out=$("$MKL" get pods -A 2>/dev/null) || return 1
	awk -v want="$want" '
		NR == 1 { next }
		{
			n++
			split($3, r, "/")
			if ($4 == "Completed") next
			if ($4 != "Running" || r[1] != r[2]) bad++
		}
		END { exit !(n == want && bad == 0) }
	' <<<"$out"
}

start() {
	is_root || die "the demo runs containers: run it as root (sudo $0)"
	if pid=$(daemon_pid); then
		die "the demo already runs (daemon pid $pid); stop it first: $0 stop"
	fi
	ensure_go
	ensure_packages
	build
	log "building the demo image $IMAGE_REF"
	make --no-print-directory _output/busybox-demo.tar

	mkdir -p "$STATE_DIR" "$MANIFEST_DIR" "$(dirname "$SOCKET")"
	# The manifests go in only once the image is there: a pod started
	# before would sit in ImagePullBackOff (nothing to pull it from).
	rm -f "$MANIFEST_DIR"/*

	log "starting the daemon (log: $LOG)"
	# setsid: the daemon outlives this script and a Ctrl-C of the terminal.
	setsid "$MKL" daemon \
		--manifest-dir "$MANIFEST_DIR" \
		--state-dir "$STATE_DIR" \
		--socket "$SOCKET" \
		--containerd-address "$NO_CONTAINERD" \
		--containerd-namespace "$NAMESPACE" \
		--rescan-period 10s \
		--log-level info --log-format console \
		>>"$LOG" 2>&1 </dev/null &
	echo $! >"$PIDFILE"

	if ! wait_for 60 "the daemon to answer on $SOCKET" "$MKL" get pods -A; then
		tail -n 30 "$LOG" >&2
		die "the daemon did not come up; see $LOG"
	fi
	log "importing $IMAGE_REF into the embedded containerd"
	ctr --address "$EMBEDDED_SOCKET" --namespace "$NAMESPACE" images import "$IMAGE_ARCHIVE" >/dev/null

	log "starting the demo pods"
	cp "$REPO_ROOT"/configs/manifests/*.yaml "$MANIFEST_DIR"/
	if ! wait_for 120 "every demo pod to run" all_pods_up; then
		"$MKL" get pods -A -o wide || true
		tail -n 30 "$LOG" >&2
		die "the demo pods did not all start; see $LOG"
	fi

	echo
	"$MKL" get pods -A -o wide
	cat <<EOF

The demo runs. Try:
  export MINIKUBELET_SOCKET=$SOCKET
  $MKL describe pod web -n demo
  $MKL logs multi -n demo -c sidecar
  $MKL logs job -n demo
  $MKL get pod web -n demo -o yaml
Manifests: $MANIFEST_DIR (edit, add or remove files and watch the pods follow)
Daemon log: $LOG
Stop it and remove its pods: $0 stop
EOF
}

stop() {
	is_root || die "run as root (sudo $0 stop)"
	local pid
	if pid=$(daemon_pid); then
		# Removing the manifests lets the daemon terminate the pods
		# gracefully (stopping the daemon alone leaves them running,
		# as the kubelet does).
		log "removing the demo manifests so the pods terminate"
		rm -f "$MANIFEST_DIR"/*
		wait_for 60 "the demo pods to terminate" bash -c '[[ -z $("$1" get pods -A -o name) ]]' _ "$MKL" ||
			log "pods still there; stopping anyway"
		log "stopping the daemon (pid $pid); it stops its embedded containerd"
		kill -TERM "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + 30))
		while [[ -e /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.5; done
		[[ ! -e /proc/$pid ]] || kill -KILL "$pid" 2>/dev/null || true
	else
		log "the demo daemon is not running"
	fi
	rm -f "$PIDFILE"
	[[ -d $DEMO_DIR ]] || return 0

	# Whatever is left after a crash: an embedded containerd or shims
	# (they mention the state dir), containers, mounts.
	# Only our kinds of process: an editor with a file open there is not.
	local left=() p
	for p in $(pids_mentioning "$DEMO_DIR"); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in
		containerd | containerd-shim* | minikubelet) left+=("$p") ;;
		esac
	done
	if ((${#left[@]})); then
		log "killing leftover processes: ${left[*]}"
		kill -TERM "${left[@]}" 2>/dev/null || true
		sleep 2
		kill -KILL "${left[@]}" 2>/dev/null || true
	fi
	kill_runc_containers "$STATE_DIR"
	unmount_under "$DEMO_DIR"
	rm -rf "$DEMO_DIR"
	rm -f "$SOCKET"
	log "demo stopped and removed"
}

status() {
	if pid=$(daemon_pid); then
		log "the demo daemon runs (pid $pid)"
		"$MKL" get pods -A -o wide
	else
		log "the demo is not running"
		return 1
	fi
}

case ${1:-start} in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: $0 [start|stop|status]" ;;
esac
