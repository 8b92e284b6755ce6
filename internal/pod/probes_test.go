package pod

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// stepUntil advances the fake clock a second at a time until cond holds.
func (h *harness) stepUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; calls: %v", what, h.rt.Calls())
		}
		h.clock.Step(time.Second)
		time.Sleep(10 * time.Millisecond)
	}
}

func execProbe(period, failures int32) *v1.Probe {
	return &v1.Probe{
		ProbeHandler:     v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds:    period,
		FailureThreshold: failures,
		TimeoutSeconds:   1,
		SuccessThreshold: 1,
	}
}

func (h *harness) hasEvent(reason, substr string) bool {
	for _, e := range h.store.Events("", "") {
		if e.Reason == reason && strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

func TestLivenessFailureRestartsContainer(t *testing.T) {
	h := newHarness(t)
	var healthy atomic.Bool
	healthy.Store(true)
	h.rt.SetExec(func(string, []string, time.Duration) ([]byte, int, error) {
		if healthy.Load() {
			return nil, 0, nil
		}
		return []byte("not healthy"), 1, nil
	})
	p := testPod("live", "u8", v1.RestartPolicyAlways, "c")
	grace := int64(7)
	p.Spec.Containers[0].LivenessProbe = execProbe(2, 2)
	p.Spec.Containers[0].LivenessProbe.TerminationGracePeriodSeconds = &grace
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.container("u8", "c").State == runtime.StateRunning })
	first := h.container("u8", "c").ID
	// Healthy probes never restart.
	for i := 0; i < 10; i++ {
		h.clock.Step(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	if h.container("u8", "c").ID != first {
		t.Fatal("restarted while healthy")
	}
	healthy.Store(false)
	h.stepUntil("restart after liveness failures", func() bool { return h.container("u8", "c").Attempt() == 1 })
	if !h.hasEvent("Unhealthy", "Liveness probe failed: not healthy") {
		t.Error("no Unhealthy event quoting the probe output")
	}
	if !h.hasEvent("Killing", "Container c failed liveness probe, will be restarted") {
		t.Error("no Killing event")
	}
	var stop string
	for _, c := range h.rt.Calls() {
		if strings.HasPrefix(c, "StopContainer "+first) {
			stop = c
		}
	}
	if stop == "" {
		t.Fatalf("the unhealthy attempt was never stopped: %v", h.rt.Calls())
	}
}

func TestReadinessDrivesReady(t *testing.T) {
	h := newHarness(t)
	var ready atomic.Bool
	h.rt.SetExec(func(string, []string, time.Duration) ([]byte, int, error) {
		if ready.Load() {
			return nil, 0, nil
		}
		return nil, 1, nil
	})
	p := testPod("ready", "u9", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].ReadinessProbe = execProbe(1, 1)
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.phase("u9") == v1.PodRunning })
	for i := 0; i < 5; i++ {
		h.clock.Step(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	st := h.pod("u9").Status
	if st.ContainerStatuses[0].Ready {
		t.Fatal("ready before the readiness probe passed")
	}
	for _, c := range st.Conditions {
		if c.Type == v1.ContainersReady && c.Status != v1.ConditionFalse {
			t.Errorf("ContainersReady %s", c.Status)
		}
	}
	if h.container("u9", "c").Attempt() != 0 {
		t.Fatal("a failing readiness probe restarted the container")
	}
	ready.Store(true)
	h.stepUntil("ready", func() bool { return h.pod("u9").Status.ContainerStatuses[0].Ready })
	for _, c := range h.pod("u9").Status.Conditions {
		if c.Status != v1.ConditionTrue {
			t.Errorf("condition %s is %s once ready", c.Type, c.Status)
		}
	}
}
