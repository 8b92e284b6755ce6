# Shell helpers shared by hack/test.sh and hack/demo.sh. Source it; it sets
# nothing but functions and REPO_ROOT.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the daemon, the tests and the demo use at run time. Each
# is installed only when missing, so a prepared machine makes no apt call.
MINIKUBELET_PACKAGES=(
	containerd                  # the runtime the daemon drives (1.6 in bookworm)
	runc                        # containerd's OCI runtime
	busybox-static              # the test and demo images are built from /bin/busybox
	skopeo                      # pushes the test image into the local registry
	docker-registry             # a registry on 127.0.0.1 for imagePullPolicy: Always
	containernetworking-plugins # loopback/bridge plugins for pod networks
	iptables
	gcc libc6-dev               # the static pause binary
	git make
	jq
)

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# package_installed NAME: true when dpkg has NAME fully installed.
package_installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# ensure_packages: installs whatever of MINIKUBELET_PACKAGES is missing.
ensure_packages() {
	command -v dpkg-query >/dev/null || {
		log "not a Debian system: make sure these are installed: ${MINIKUBELET_PACKAGES[*]}"
		return 0
	}
	local missing=() p
	for p in "${MINIKUBELET_PACKAGES[@]}"; do
		package_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	is_root || die "missing packages (${missing[*]}); run as root or install them first"
	log "installing ${missing[*]}"
	# Package scripts must not start system services (a docker-registry on
	# :5000 or a system containerd would collide with the ones the tests
	# start): policy-rc.d exit 101 tells invoke-rc.d "not allowed". Only
	# when there is none already, and removed again afterwards.
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	local rc=0
	{
		DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	} || rc=$?
	[[ -z $made_policy ]] || rm -f "$policy"
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

# ensure_go: the Go toolchain must be there (it is not an apt package we
# can rely on: go.mod wants a newer Go than Debian ships).
ensure_go() {
	# sudo's secure_path usually drops the Go toolchain's directory.
	if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
		export PATH=/usr/local/go/bin:$PATH
	fi
	command -v go >/dev/null || die "go not found on PATH (go.mod needs $(awk '/^go /{print $2}' "$REPO_ROOT/go.mod"))"
}

# ensure_kubectl: the e2e tests run the operator's own kubectl (1.30 or
# newer: Debian's kubernetes-client is 1.20, too old). Where there is none,
# one is built from the k8s.io/kubectl module's command, at the release of
# the project's other k8s.io modules, into _output/kubectl/ (put on PATH).
ensure_kubectl() {
	command -v kubectl >/dev/null && return 0
	local dir=$REPO_ROOT/_output/kubectl
	if [[ ! -x $dir/bin/kubectl ]]; then
		local ver
		ver=$(awk '$1 == "k8s.io/apimachinery" {print $2}' "$REPO_ROOT/go.mod")
		log "no kubectl on PATH: building k8s.io/kubectl $ver"
		mkdir -p "$dir/src"
		cat >"$dir/src/main.go" <<'GO'
// kubectl for the e2e tests, built from the k8s.io/kubectl module.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() { os.Exit(cli.Run(cmd.NewDefaultKubectlCommand())) }
GO
		(cd "$dir/src" && rm -f go.mod go.sum && go mod init e2e/kubectl >/dev/null 2>&1 &&
			go get "k8s.io/kubectl@$ver" "k8s.io/component-base@$ver" >/dev/null &&
			go mod tidy >/dev/null && CGO_ENABLED=0 go build -trimpath \
				-ldflags "-X k8s.io/component-base/version.gitVersion=v1.${ver#v0.} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$ver")" \
				-o "$dir/bin/kubectl" .) ||
			die "building kubectl $ver failed"
	fi
	export PATH=$dir/bin:$PATH
}

# build: bin/minikubelet and bin/minikubelet-pause.
build() {
	log "building"
	make -C "$REPO_ROOT" --no-print-directory build
}

# wait_for SECONDS DESCRIPTION CMD...: runs CMD every second until it
# succeeds; fails after SECONDS.
wait_for() {
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || {
			log "timed out after ${timeout}s waiting for $what"
			return 1
		}
		sleep 1
	done
}

# pids_mentioning PATH: processes whose command line contains PATH, except
# this shell and its parents' own.
pids_mentioning() {
	local needle=$1 pid cmd
	for pid in /proc/[0-9]*; do
		pid=${pid#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		# A process may end between the glob and the read: skip it quietly.
		cmd=$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || continue
		[[ $cmd == *"$needle"* ]] && echo "$pid"
	done
	return 0
}

# kill_runc_containers ROOT: force-deletes every runc container whose state
# lives under ROOT (runc keeps <root>/<id>/state.json), so the processes of
# pods go too and not only their shims.
kill_runc_containers() {
	local top=$1 state dir root id
	[[ -d $top ]] || return 0
	command -v runc >/dev/null || return 0
	while IFS= read -r state; do
		dir=$(dirname "$state")
		root=$(dirname "$dir")
		id=$(basename "$dir")
		runc --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	done < <(find "$top" -name state.json -type f 2>/dev/null)
}

# unmount_under DIR: unmounts everything mounted below DIR, deepest first
# (netns pins, overlay rootfs, shm), lazily so a busy mount cannot block.
unmount_under() {
	local dir
	dir=$(realpath -m "$1")
	awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while IFS= read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
}

# remove_pod_cgroups UID...: removes the cgroups minikubelet made for these
# pods (/minikubelet/pod<uid>, in every hierarchy), children first; rmdir
# leaves alone any that still has processes.
remove_pod_cgroups() {
	local uid d
	for uid in "$@"; do
		[[ $uid =~ ^[0-9a-f-]+$ ]] || continue
		for d in /sys/fs/cgroup/minikubelet/pod"$uid" /sys/fs/cgroup/*/minikubelet/pod"$uid"; do
			[[ -d $d ]] || continue
			find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
			rmdir "$d" 2>/dev/null || true
		done
	done
}
