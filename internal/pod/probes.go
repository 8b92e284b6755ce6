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
func (w *worker) syncProbes(ctx context.Context, obs observed) (killed bool) {
	for _, c := range w.probedContainers() {
		for _, a := range obs.containers[c.Name] {
			if a.State != runtime.StateRunning {
				w.unprobe(a.ID)
				continue
			}
			if !w.probed[a.ID] {
				w.probed[a.ID] = true
				w.m.prober.AddContainer(prober.Target{
					PodUID: w.pod.UID, Namespace: w.pod.Namespace, PodName: w.pod.Name,
					Container: c, Pod: w.pod, ContainerID: a.ID, StartedAt: a.StartedAt,
					PodIP: w.probeIP(),
				})
			}
			for _, k := range []prober.Kind{prober.Startup, prober.Liveness} {
				if r, ok := w.m.prober.Result(a.ID, k); ok && r == prober.Failure {
					w.killUnhealthy(ctx, c, a, k)
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
func (w *worker) probedContainers() []*v1.Container {
	var out []*v1.Container
	for i := range w.pod.Spec.InitContainers {
		if isSidecar(&w.pod.Spec.InitContainers[i]) {
			out = append(out, &w.pod.Spec.InitContainers[i])
		}
	}
	for i := range w.pod.Spec.Containers {
		out = append(out, &w.pod.Spec.Containers[i])
	}
	return out
}

// probeIP is where network probes go: the host's address for host-network
// pods, else the pod IP; with no pod network ("") probes dial inside the
// pod's namespace.
func (w *worker) probeIP() string {
	if w.pod.Spec.HostNetwork {
		return w.m.o.HostIP
	}
	return w.podIP
}

// unprobeAll ends every probe of the pod: no probe may kill or report on
// a container that is stopping anyway.
func (w *worker) unprobeAll() {
	for id := range w.probed {
		w.unprobe(id)
	}
}

func (w *worker) unprobe(id string) {
	if w.probed[id] {
		w.m.prober.RemoveContainer(id)
		delete(w.probed, id)
	}
}

// killUnhealthy stops an attempt that failed its liveness or startup
// probe; the exit then goes through the restart policy like any other.
// A probe-level terminationGracePeriodSeconds overrides the pod's.
func (w *worker) killUnhealthy(ctx context.Context, c *v1.Container, a runtime.Container, k prober.Kind) {
	probe := c.LivenessProbe
	what := "liveness"
	if k == prober.Startup {
		probe, what = c.StartupProbe, "startup"
	}
	grace := w.gracePeriod()
	if probe != nil && probe.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*probe.TerminationGracePeriodSeconds) * time.Second
	}
	w.unprobe(a.ID)
	msg := fmt.Sprintf("Container %s failed %s probe, will be restarted", c.Name, what)
	if err := w.killContainer(ctx, c.Name, a, grace, msg); err != nil {
		w.log.Error("kill unhealthy container", zap.String("container", a.ID), zap.Error(err))
	}
}

// probeState tells status building whether a running attempt has passed
// its startup probe and is ready; attempts without probes are both.
type probeState interface {
	Started(containerID string) bool
	Ready(containerID string) bool
}
