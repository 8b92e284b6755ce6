// Package sandbox owns a pod's sandbox: the pause container holding the
// pod's namespaces, the pinned network namespace, and the per-pod files
// every container mounts (/etc/hosts, /etc/hostname, /etc/resolv.conf and
// a shared /dev/shm), plus the pod's volumes (through internal/volume).
// It creates them, and removes all of it when the pod goes, so nothing is
// left on the node.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/spec"
	"github.com/minikubelet/minikubelet/internal/volume"
)

// Manager creates and removes sandboxes.
type Manager struct {
	// StateDir holds pods/<uid>/ (files, logs) and netns/<sandbox-id>.
	StateDir string
	Runtime  runtime.Runtime
	// Image is the pause image; EnsureImage makes it available locally.
	Image       string
	EnsureImage func(ctx context.Context) error
	// HostResolvConf is read for pods' resolv.conf (default /etc/resolv.conf).
	HostResolvConf string
	// Network attaches pods' network namespaces (CNI); nil leaves pods
	// with loopback only.
	Network Network
	Logger  *zap.Logger
	// PodMaxPids caps the processes and threads of each pod (its cgroup's
	// pids.max), as the kubelet's --pod-max-pids; 0 or less: no cap.
	PodMaxPids int64
}

// Network is what sandboxes need of pod networking; *cni.Network
// implements it.
type Network interface {
	// Setup attaches a sandbox's network namespace and returns the pod IP.
	Setup(ctx context.Context, id, netns string, pod *v1.Pod) (string, error)
	// Teardown detaches it again (a no-op when it is not attached); netns
	// is empty when the namespace is already gone.
	Teardown(ctx context.Context, id, netns string) error
}

// LabelPodIP on a sandbox container is the pod IP its network got, so a
// restarted daemon reports the same address.
const LabelPodIP = runtime.LabelPrefix + "pod.ip"

// Paths are the per-pod files and mounts a container spec refers to.
type Paths struct {
	Dir, Hosts, Hostname, ResolvConf, Shm string
}

// PrivateDirMode is the mode of pods/, each pods/<uid> and the pod's
// termination-message directory: no other host user may list pod UIDs or
// reach a pod's files (its termination messages, downward-API files,
// /etc/hosts, logs). The kubelet keeps pods/ at 0750; nothing but the
// daemon reads them here (the CLI goes through the socket), so no group
// either. Containers are unaffected: each file or volume reaches them
// through a bind mount, which runc makes as root, and a path inside a
// container does not traverse these directories.
const PrivateDirMode = 0o700

// MkdirPrivate makes dir (and any missing parent) with PrivateDirMode, and
// sets that mode on dir if it was already there (made 0755 by an earlier
// version, or by systemd).
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, PrivateDirMode); err != nil {
		return err
	}
	return os.Chmod(dir, PrivateDirMode)
}

// PodDir is where everything on disk of a pod lives.
func (m *Manager) PodDir(uid string) string { return filepath.Join(m.StateDir, "pods", uid) }

// NetNSPath is the pin of a sandbox's network namespace.
func (m *Manager) NetNSPath(sandboxID string) string {
	return filepath.Join(m.StateDir, "netns", sandboxID)
}

// PodPaths returns the paths of a pod's files (whether made yet or not).
func (m *Manager) PodPaths(uid string) Paths {
	dir := m.PodDir(uid)
	return Paths{
		Dir:        dir,
		Hosts:      filepath.Join(dir, "etc-hosts"),
		Hostname:   filepath.Join(dir, "etc-hostname"),
		ResolvConf: filepath.Join(dir, "resolv.conf"),
		Shm:        filepath.Join(dir, "shm"),
	}
}

// Prepare writes the pod's files and mounts its /dev/shm. It is idempotent.
func (m *Manager) Prepare(pod *v1.Pod, podIP string) (Paths, error) {
	p := m.PodPaths(string(pod.UID))
	for _, dir := range []string{filepath.Dir(p.Dir), p.Dir} {
		if err := MkdirPrivate(dir); err != nil {
			return p, fmt.Errorf("create pod directory: %w", err)
		}
	}
	hostResolv := m.HostResolvConf
	if hostResolv == "" {
		hostResolv = "/etc/resolv.conf"
	}
	resolv, err := os.ReadFile(hostResolv)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return p, fmt.Errorf("read host resolv.conf: %w", err)
	}
	hosts := HostsFile(pod, podIP)
	if pod.Spec.HostNetwork {
		// A host-network pod sees the host's names, as in the kubelet.
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = h
		}
	}
	files := []struct {
		path string
		data []byte
	}{
		{p.Hosts, hosts},
		{p.Hostname, []byte(spec.Hostname(pod) + "\n")},
		{p.ResolvConf, ResolvConf(pod, resolv)},
	}
	for _, f := range files {
		if err := volume.WriteFileAtomic(f.path, f.data, 0o644, nil); err != nil {
			return p, fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	if !pod.Spec.HostIPC {
		if err := mountShm(p.Shm); err != nil {
			return p, err
		}
	} else {
		p.Shm = ""
	}
	if err := volume.Setup(pod, p.Dir); err != nil {
		return p, fmt.Errorf("set up volumes: %w", err)
	}
	return p, nil
}

// Run creates and starts a pod's pause container (attempt n) and returns
// its ID. Everything it made is removed again when a step fails.
func (m *Manager) Run(ctx context.Context, pod *v1.Pod, id string, attempt int) (retErr error) {
	log := m.Logger.With(zap.String("sandbox", id))
	if m.EnsureImage != nil {
		if err := m.EnsureImage(ctx); err != nil {
			return fmt.Errorf("sandbox image %s: %w", m.Image, err)
		}
	}
	img, err := m.Runtime.GetImage(ctx, m.Image)
	if err != nil {
		return fmt.Errorf("sandbox image %s: %w", m.Image, err)
	}
	sb := spec.Sandbox{
		ID:          id,
		PodUID:      string(pod.UID),
		QOSClass:    spec.QOSClass(pod),
		Hostname:    spec.Hostname(pod),
		HostNetwork: pod.Spec.HostNetwork,
		HostPID:     pod.Spec.HostPID,
		HostIPC:     pod.Spec.HostIPC,
		Args:        append(append([]string(nil), img.Config.Entrypoint...), img.Config.Cmd...),
	}
	sb.OOMScoreAdj = pauseOOMScoreAdj()
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		sb.Sysctls = map[string]string{}
		for _, s := range sc.Sysctls {
			sb.Sysctls[s.Name] = s.Value
		}
	}
	sb.ShareProcessNamespace = pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace
	if m.PodMaxPids > 0 {
		if err := setPodPidsMax(spec.PodCgroup(sb.PodUID, sb.QOSClass), m.PodMaxPids); err != nil {
			return fmt.Errorf("pod pids limit: %w", err)
		}
	}
	if !pod.Spec.HostNetwork {
		sb.NetNSPath = m.NetNSPath(id)
	}
	s, err := spec.SandboxSpec(sb)
	if err != nil {
		return err
	}
	labels := PodLabels(pod)
	labels[runtime.LabelKind] = runtime.KindSandbox
	labels[runtime.LabelAttempt] = strconv.Itoa(attempt)
	// The container is the record of the sandbox ID, made before the
	// namespace pin and the CNI ADD: whatever a kill -9 leaves of those is
	// found through it (the worker or the orphan cleanup releases it) or,
	// without it, is a leftover that no sandbox owns (see
	// internal/leftovers).
	if err := m.Runtime.CreateContainer(ctx, runtime.CreateRequest{
		ID: id, Image: img, Spec: s, Labels: labels,
	}); err != nil {
		return err
	}
	released := true
	defer func() {
		if retErr == nil {
			return
		}
		if !released {
			// The record stays until the network is released: Remove
			// retries the release first.
			log.Warn("keeping the sandbox container until its network is released")
			return
		}
		// A fresh context: the caller's may be what failed.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Runtime.RemoveContainer(cctx, id); err != nil {
			log.Warn("roll back sandbox container", zap.Error(err))
		}
	}()
	if pod.Spec.HostNetwork {
		return m.Runtime.StartContainer(ctx, id)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := m.releaseNetwork(cctx, id); err != nil {
				released = false
				log.Warn("roll back pod network", zap.Error(err))
			}
		}
	}()
	if err := os.MkdirAll(filepath.Dir(sb.NetNSPath), 0o755); err != nil {
		return err
	}
	if err := pinNetNS(sb.NetNSPath); err != nil {
		return err
	}
	podIP, err := m.setupNetwork(ctx, pod, id, sb.NetNSPath)
	if err != nil {
		return err
	}
	if podIP != "" {
		if err := m.Runtime.SetLabels(ctx, id, map[string]string{LabelPodIP: podIP}); err != nil {
			return fmt.Errorf("record pod IP of sandbox %s: %w", id, err)
		}
	}
	return m.Runtime.StartContainer(ctx, id)
}

// Stop stops a sandbox's pause container, detaches its network and
// unpins its network namespace.
func (m *Manager) Stop(ctx context.Context, id string) error {
	if err := m.Runtime.StopContainer(ctx, id, syscall.SIGTERM, 10*time.Second); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("stop sandbox %s: %w", id, err)
	}
	return m.releaseNetwork(ctx, id)
}

// Remove detaches a stopped sandbox's network (if Stop did not), removes
// its network namespace pin, and only then deletes the container: the
// container is the record of the sandbox ID, so a release that fails
// keeps it, and a retry (of this daemon or a later one) can finish.
func (m *Manager) Remove(ctx context.Context, id string) error {
	if err := m.releaseNetwork(ctx, id); err != nil {
		return err
	}
	if err := m.Runtime.RemoveContainer(ctx, id); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	return nil
}

// Cleanup removes what is left of a pod on the node once all its
// containers are gone: its directory (with every mount under it: shm,
// volumes, subPath binds; files, emptyDirs, logs) and its cgroup.
func (m *Manager) Cleanup(uid string) error {
	// The cgroup first: the leftover collector only looks at the cgroups
	// of pods that still have a directory here, so the directory must
	// outlive the cgroup.
	if err := m.RemovePodCgroups(uid); err != nil {
		return err
	}
	return m.RemovePodDir(uid)
}

// RemovePodDir unmounts everything under a pod's directory, then removes
// it. The directory is only removed once nothing is mounted under it: a
// subPath bind left in place would let the removal reach into a hostPath
// volume. A pod directory that is a symlink (not made by the daemon) is
// removed as a link, never followed.
func (m *Manager) RemovePodDir(uid string) error {
	dir := m.PodDir(uid)
	if uid == "" || filepath.Base(dir) != uid {
		return fmt.Errorf("remove pod directory: bad pod uid %q", uid)
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("remove pod directory: %w", err)
	case !fi.IsDir():
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("remove pod directory: %w", err)
		}
		return nil
	}
	if parent, err := os.Lstat(filepath.Dir(dir)); err != nil || !parent.IsDir() {
		return fmt.Errorf("remove pod directory %s: %s is not a directory", dir, filepath.Dir(dir))
	}
	if err := volume.UnmountAll(dir); err != nil {
		return fmt.Errorf("unmount under pod directory: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	return nil
}

// RemovePodCgroups removes the pod's cgroup wherever its QoS class put it.
func (m *Manager) RemovePodCgroups(uid string) error {
	var errs []error
	for _, cg := range spec.PodCgroups(uid) {
		if err := removeCgroup(cg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PodLabels are the labels identifying a pod on every object it owns.
func PodLabels(pod *v1.Pod) map[string]string {
	l := map[string]string{
		runtime.LabelPodNamespace: pod.Namespace,
		runtime.LabelPodName:      pod.Name,
		runtime.LabelPodUID:       string(pod.UID),
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		l[runtime.LabelPodGracePeriod] = strconv.FormatInt(*g, 10)
	}
	return l
}

// pauseOOMScoreAdj is the kubelet's -998 for the pause process, but never
// below the daemon's own score: lowering it needs CAP_SYS_RESOURCE, which
// a confined root may lack, and runc would then fail the whole sandbox.
func pauseOOMScoreAdj() *int {
	score := -998
	if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		if own, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && own > score {
			score = own
		}
	}
	return &score
}
