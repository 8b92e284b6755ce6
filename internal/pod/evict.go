package pod

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/volume"
)

// Local storage eviction, as the kubelet's eviction manager does it for
// emptyDir sizeLimit and ephemeral-storage limits: every period each
// limited pod's usage is measured (a disk emptyDir: what its directory
// holds; a container: its writable layer plus its logs) and a pod over a
// limit is evicted: its containers are stopped, it is Failed with reason
// Evicted, and it stays so until its manifest changes (a new pod).
//
// Two things differ from the kubelet, on purpose:
//   - The pod-level limit (the whole pod's usage against the sum of its
//     containers' limits) applies only when every container has a limit.
//     The kubelet sums the limits that are set and holds the whole pod,
//     unlimited containers included, to that sum, which evicts a pod for
//     what a container with no limit wrote.
//   - Init containers' limits count too; the kubelet accepts and ignores
//     them.

// labelEvicted on a pod's sandbox keeps the eviction message, so that a
// restarted daemon keeps the pod Failed instead of starting it again.
const labelEvicted = runtime.LabelPrefix + "evicted"

// evictionGrace is the grace period an evicted pod's containers get: the
// kubelet's for local storage evictions (1 s), since a container over its
// limit goes on writing. The stop signal still gets minStopGrace.
const evictionGrace = time.Second

// DefaultEvictionPeriod is how often local storage is measured, as the
// kubelet's eviction manager monitors every 10 s.
const DefaultEvictionPeriod = 10 * time.Second

// storageUsage is what a pod uses of local storage, in bytes.
type storageUsage struct {
	// emptyDirs are the disk (not Memory) emptyDirs, by volume name.
	emptyDirs map[string]int64
	// containers are each container's writable layer plus logs, by name.
	containers map[string]int64
}

func evicted(message string) *podFailure {
	return &podFailure{Reason: "Evicted", Message: message, Grace: evictionGrace}
}

func diskEmptyDir(v *v1.Volume) bool {
	return v.EmptyDir != nil && v.EmptyDir.Medium != v1.StorageMediumMemory
}

// allContainers are the pod's init containers, then its app containers.
func allContainers(pod *v1.Pod) []v1.Container {
	return append(append([]v1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
}

// hasStorageLimits reports whether the pod sets anything eviction checks;
// others are never measured.
func hasStorageLimits(pod *v1.Pod) bool {
	for i := range pod.Spec.Volumes {
		if v := &pod.Spec.Volumes[i]; diskEmptyDir(v) && v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() > 0 {
			return true
		}
	}
	for _, c := range allContainers(pod) {
		if q, ok := c.Resources.Limits[v1.ResourceEphemeralStorage]; ok && q.Sign() > 0 {
			return true
		}
	}
	return false
}

// evictionFor decides whether a pod's usage evicts it: emptyDirs first,
// then each container, then the pod as a whole. (The kubelet checks the
// pod before its containers, so a pod of one limited container is
// evicted with the pod's message; naming the container says more.)
// A memory-backed emptyDir is not checked: its sizeLimit is the size of
// its tmpfs, which the kernel enforces.
func evictionFor(pod *v1.Pod, u storageUsage) *podFailure {
	var total int64
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !diskEmptyDir(v) {
			continue
		}
		used := u.emptyDirs[v.Name]
		total += used
		if l := v.EmptyDir.SizeLimit; l != nil && l.Sign() > 0 && used > l.Value() {
			return evicted(fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", v.Name, l.String()))
		}
	}
	for _, c := range allContainers(pod) {
		if l, ok := c.Resources.Limits[v1.ResourceEphemeralStorage]; ok && l.Sign() > 0 && u.containers[c.Name] > l.Value() {
			return evicted(fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q.", c.Name, l.String()))
		}
	}
	for _, used := range u.containers {
		total += used
	}
	if limit := volume.ContainersLimit(pod, v1.ResourceEphemeralStorage); limit > 0 && total > limit {
		return evicted(fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s.",
			resource.NewQuantity(limit, resource.BinarySI).String()))
	}
	return nil
}

// measureStorage measures the pod's local storage: its disk emptyDirs,
// and for each container the newest attempt's writable layer plus the
// container's logs (every attempt's, as they share its log directory).
func (s *syncer) measureStorage(ctx context.Context) (storageUsage, error) {
	u := storageUsage{emptyDirs: map[string]int64{}, containers: map[string]int64{}}
	podDir := s.sandboxes.PodDir(string(s.pod.UID))
	for i := range s.pod.Spec.Volumes {
		if v := &s.pod.Spec.Volumes[i]; diskEmptyDir(v) {
			n, err := volume.DiskUsage(volume.EmptyDirPath(podDir, v.Name))
			if err != nil {
				return u, fmt.Errorf("volume %q: %w", v.Name, err)
			}
			u.emptyDirs[v.Name] = n
		}
	}
	cs, err := s.rt.ListContainers(ctx, map[string]string{runtime.LabelPodUID: string(s.pod.UID)})
	if err != nil {
		return u, err
	}
	obs := observe(cs)
	for name := range obs.containers {
		layer, err := s.rt.WritableLayerUsage(ctx, obs.latest(name).ID)
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return u, fmt.Errorf("container %q: %w", name, err)
		}
		logs, err := volume.DiskUsage(filepath.Dir(s.logPath(name, 0)))
		if err != nil {
			return u, fmt.Errorf("container %q: %w", name, err)
		}
		u.containers[name] = layer + logs
	}
	return u, nil
}

// evictLoop measures the live pods' local storage until ctx ends, a
// period apart (from the end of one round, as the kubelet's eviction
// manager sleeps between rounds, so a slow round never piles up).
func (m *Manager) evictLoop(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-m.o.Clock.After(m.o.EvictionPeriod):
			m.checkStorage(ctx)
		}
	}
}

// checkStorage is one round of local storage eviction: each live pod
// with a limit that is not terminal yet is measured, and evicted when
// over a limit. The worker carries the eviction out on its next sync.
func (m *Manager) checkStorage(ctx context.Context) {
	m.mu.Lock()
	workers := make([]*podWorker, 0, len(m.live))
	for _, w := range m.live {
		workers = append(workers, w)
	}
	m.mu.Unlock()
	for _, w := range workers {
		if !hasStorageLimits(w.pod) || w.s.evicting.Load() != nil {
			continue
		}
		if p, ok := m.o.Store.Pod(w.pod.UID); ok && (p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed) {
			continue
		}
		u, err := w.s.measureStorage(ctx)
		if err != nil {
			w.log.Warn("measure local storage", zap.Error(err))
			continue
		}
		if f := evictionFor(w.pod, u); f != nil {
			w.s.evicting.CompareAndSwap(nil, f)
			w.poke()
		}
	}
}

// checkEviction makes an eviction the pod's failure: one the storage
// check found (then the Evicted event, and the message kept on the
// sandbox), or one a previous daemon recorded on the sandbox.
func (s *syncer) checkEviction(ctx context.Context, obs observed) {
	if s.failed != nil {
		return
	}
	if f := s.evicting.Load(); f != nil {
		s.failed = f
		s.log.Info("evicting pod", zap.String("message", f.Message))
		s.event("", v1.EventTypeWarning, f.Reason, f.Message)
		for _, sb := range obs.sandboxes {
			if err := s.rt.SetLabels(ctx, sb.ID, map[string]string{labelEvicted: f.Message}); err != nil {
				s.log.Warn("record eviction on the sandbox", zap.String("sandbox", sb.ID), zap.Error(err))
			}
		}
		return
	}
	for _, sb := range obs.sandboxes {
		if msg := sb.Labels[labelEvicted]; msg != "" {
			s.failed = evicted(msg)
			return
		}
	}
}
