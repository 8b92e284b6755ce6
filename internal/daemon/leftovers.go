package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/cni"
	"github.com/minikubelet/minikubelet/internal/leftovers"
	"github.com/minikubelet/minikubelet/internal/pod"
	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
)

// Leftovers are collected once the first manifest sync said which pods
// are wanted, then every leftoverPeriod, each collection bounded by
// leftoverTimeout.
const (
	leftoverPeriod  = 5 * time.Minute
	leftoverTimeout = 2 * time.Minute
)

// leftoverCollector wires the collector to the node: the sandbox
// manager's state dir, the pod network, the pod cgroups, containerd's
// containers in the daemon's namespace and the pod manager's workers.
func leftoverCollector(sb *sandbox.Manager, nw *cni.Network, rt runtime.Runtime, pods *pod.Manager, clk clock.WithTicker, log *zap.Logger) *leftovers.Collector {
	known := func() map[string]bool {
		uids := map[string]bool{}
		for _, p := range pods.Pods() {
			uids[string(p.UID)] = true
		}
		return uids
	}
	return &leftovers.Collector{
		Sandboxes: func(context.Context) ([]string, error) {
			ids, err := sb.NetNSPins()
			if err != nil || nw == nil {
				return ids, err
			}
			attached, err := nw.Attached()
			return append(ids, attached...), err
		},
		PodDirs: sb.PodDirUIDs,
		// Only the cgroups of pods with a directory in this daemon's state
		// dir: the cgroup layout is shared by every minikubelet on the
		// machine, and another daemon's pod cgroup (made before its
		// sandbox starts) is not ours to take. A pod's directory is made
		// before its cgroup and removed after it.
		PodCgroups: func() ([]string, error) { return ownCgroups(sb) },
		TerminationFiles: func(uid string) ([]leftovers.File, error) {
			// The pod worker's termination-message directory (see
			// pod.createTerminationLog); a pod dir that is not a
			// directory has none.
			dir := sb.PodDir(uid)
			if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
				return nil, nil
			}
			return leftovers.TerminationFilesIn(filepath.Join(dir, "termination"), uid)
		},
		Owners: func(ctx context.Context) (leftovers.Owners, error) {
			cs, err := rt.ListContainers(ctx, nil)
			if err != nil {
				return leftovers.Owners{}, err
			}
			o := leftovers.Owners{Containers: map[string]bool{}, Pods: known()}
			for _, c := range cs {
				o.Containers[c.ID] = true
				if uid := c.Labels[runtime.LabelPodUID]; uid != "" {
					o.Pods[uid] = true
				}
			}
			return o, nil
		},
		StillOwned:      func(uid string) bool { return known()[uid] },
		ReleaseSandbox:  sb.ReleaseNetwork,
		RemovePodDir:    sb.RemovePodDir,
		RemovePodCgroup: sb.RemovePodCgroups,
		RemoveFile: func(path string) error {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		},
		Clock:  clk,
		Logger: log,
	}
}

// ownCgroups returns the pod cgroups on the machine whose pods have a
// directory under the sandbox manager's state dir.
func ownCgroups(sb *sandbox.Manager) ([]string, error) {
	dirs, err := sb.PodDirUIDs()
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, uid := range dirs {
		mine[uid] = true
	}
	all, err := sandbox.PodCgroupUIDs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, uid := range all {
		if mine[uid] {
			out = append(out, uid)
		}
	}
	return out, nil
}
