// Package status owns what the daemon reports: the newest v1.Pod (spec and
// full status) of every pod it knows, and a bounded ring of events. Pod
// workers write it; the socket API reads it. It imports nothing else from
// internal/.
package status

import (
	"sort"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Store holds pods by UID. It is safe for concurrent use; every value
// handed in or out is a deep copy, so callers never share memory with it.
type Store struct {
	mu     sync.RWMutex
	pods   map[types.UID]*v1.Pod
	events *eventRing
	clock  clock.PassiveClock
	host   string
}

// NewStore returns an empty store keeping at most maxEvents events.
func NewStore(clk clock.PassiveClock, maxEvents int) *Store {
	return &Store{
		pods:   map[types.UID]*v1.Pod{},
		events: newEventRing(maxEvents),
		clock:  clk,
	}
}

// SetPod stores pod (by UID). A condition whose status did not change keeps
// the lastTransitionTime it had, so writers can rebuild conditions from
// scratch on every sync.
func (s *Store) SetPod(pod *v1.Pod) {
	p := pod.DeepCopy()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.pods[p.UID]; ok {
		for i := range p.Status.Conditions {
			c := &p.Status.Conditions[i]
			for _, oc := range old.Status.Conditions {
				if oc.Type == c.Type && oc.Status == c.Status {
					c.LastTransitionTime = oc.LastTransitionTime
				}
			}
		}
	}
	s.pods[p.UID] = p
}

// Pod returns the pod with uid.
func (s *Store) Pod(uid types.UID) (*v1.Pod, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.pods[uid]
	if !ok {
		return nil, false
	}
	return p.DeepCopy(), true
}

// ContainerRunning reports whether the pod's status shows the container
// (by its "containerd://" ID, init or app) running. It copies nothing, so
// log followers can ask it on every poll.
func (s *Store) ContainerRunning(uid types.UID, containerID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.pods[uid]
	if !ok {
		return false
	}
	for _, list := range [][]v1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			if list[i].ContainerID == containerID {
				return list[i].State.Running != nil
			}
		}
	}
	return false
}

// DeletePod forgets a pod.
func (s *Store) DeletePod(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pods, uid)
}

// ListPods returns every pod, sorted by namespace and name (older first
// when a replaced pod is still terminating).
func (s *Store) ListPods() []v1.Pod {
	s.mu.RLock()
	out := make([]v1.Pod, 0, len(s.pods))
	for _, p := range s.pods {
		out = append(out, *p.DeepCopy())
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
	return out
}

// GetPod returns the pod named namespace/name. While a replaced pod is
// still terminating, the one not being deleted wins.
func (s *Store) GetPod(namespace, name string) (*v1.Pod, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *v1.Pod
	for _, p := range s.pods {
		if p.Namespace != namespace || p.Name != name {
			continue
		}
		if best == nil || (best.DeletionTimestamp != nil && p.DeletionTimestamp == nil) {
			best = p
		}
	}
	if best == nil {
		return nil, false
	}
	return best.DeepCopy(), true
}
