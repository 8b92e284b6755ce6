package pod

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/prober"
	"github.com/minikubelet/minikubelet/internal/runtime"
)

// probed containers: the prober's workers run for each running attempt of
// a container that declares probes, and stop when the attempt ends.
func (s *syncer) syncProbes(ctx context.Context, obs observed) (killed bool) {
	for _, c := range s.probedContainers() {
		for _, a := range obs.containers[c.Name] {
			if a.State != runtime.StateRunning {
				s.unprobe(a.ID)
				continue
			}
			if !s.probed[a.ID] {
				s.probed[a.ID] = true
				s.prober.AddContainer(prober.Target{
					PodUID: s.pod.UID, Namespace: s.pod.Namespace, PodName: s.pod.Name,
					Container: c, Pod: s.pod, ContainerID: a.ID, StartedAt: a.StartedAt,
					PodIP: s.probeIP(),
				})
			}
			for _, k := range []prober.Kind{prober.Startup, prober.Liveness} {
				if r, ok := s.prober.Result(a.ID, k); ok && r == prober.Failure {
					s.killUnhealthy(ctx, c, a, k)
					killed = true
					break
				}
			}
		}
	}
	return killed
}

// probedContainers are the containers that may carry probes: app
// containers and sidecars.
func (s *syncer) probedContainers() []*v1.Container {
	var out []*v1.Container
	for i := range s.pod.Spec.InitContainers {
		if isSidecar(&s.pod.Spec.InitContainers[i]) {
			out = append(out, &s.pod.Spec.InitContainers[i])
		}
	}
	for i := range s.pod.Spec.Containers {
		out = append(out, &s.pod.Spec.Containers[i])
	}
	return out
}

// probeIP is where network probes go: the host's address for host-network
// pods, else the pod IP; with no pod network ("") probes dial inside the
// pod's namespace.
func (s *syncer) probeIP() string {
	if s.pod.Spec.HostNetwork {
		return s.hostIP
	}
	return s.podIP
}

// unprobeAll ends every probe of the pod: no probe may kill or report on
// a container that is stopping anyway.
func (s *syncer) unprobeAll() {
	for id := range s.probed {
		s.unprobe(id)
	}
}

func (s *syncer) unprobe(id string) {
	if s.probed[id] {
		s.prober.RemoveContainer(id)
		delete(s.probed, id)
	}
}

// killUnhealthy stops an attempt that failed its liveness or startup
// probe; the exit then goes through the restart policy like any other.
// A probe-level terminationGracePeriodSeconds overrides the pod's.
func (s *syncer) killUnhealthy(ctx context.Context, c *v1.Container, a runtime.Container, k prober.Kind) {
	probe := c.LivenessProbe
	what := "liveness"
	if k == prober.Startup {
		probe, what = c.StartupProbe, "startup"
	}
	grace := s.gracePeriod()
	if probe != nil && probe.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*probe.TerminationGracePeriodSeconds) * time.Second
	}
	s.unprobe(a.ID)
	msg := fmt.Sprintf("Container %s failed %s probe, will be restarted", c.Name, what)
	if err := s.killContainer(ctx, c.Name, a, grace, msg); err != nil {
		s.log.Error("kill unhealthy container", zap.String("container", a.ID), zap.Error(err))
	}
}

// probeState tells status building whether a running attempt has passed
// its startup probe and is ready; attempts without probes are both.
type probeState interface {
	Started(containerID string) bool
	Ready(containerID string) bool
}
