package pod

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

func TestPreStopRunsBeforeTheStopSignal(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var order []string
	h.rt.SetExec(func(id string, cmd []string, _ time.Duration) ([]byte, int, error) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "exec "+strings.Join(cmd, " "))
		return []byte("bye"), 0, nil
	})
	p := testPod("stop", "h1", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Lifecycle = &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"drain"}}}}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.phase("h1") == v1.PodRunning })
	id := h.container("h1", "c").ID
	h.m.Sync(context.Background(), nil)
	h.waitFor("gone", func() bool { return h.pod("h1") == nil })
	calls := h.rt.Calls()
	execAt, stopAt := -1, -1
	for i, c := range calls {
		if c == "Exec "+id && execAt < 0 {
			execAt = i
		}
		if strings.HasPrefix(c, "StopContainer "+id) && stopAt < 0 {
			stopAt = i
		}
	}
	if execAt < 0 || stopAt < execAt {
		t.Fatalf("preStop did not run before the stop signal: %v", calls)
	}
	if len(order) != 1 || order[0] != "exec drain" {
		t.Errorf("hook commands %v", order)
	}
}

func TestFailedPreStopStillStops(t *testing.T) {
	h := newHarness(t)
	h.rt.SetExec(func(string, []string, time.Duration) ([]byte, int, error) { return []byte("no"), 1, nil })
	p := testPod("stop2", "h2", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Lifecycle = &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"drain"}}}}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.phase("h2") == v1.PodRunning })
	h.m.Sync(context.Background(), nil)
	h.waitFor("gone", func() bool { return h.pod("h2") == nil })
	if !h.hasEvent("FailedPreStopHook", "PreStopHook failed") {
		t.Error("no FailedPreStopHook event")
	}
	if !h.hasEvent("Killing", "Stopping container c") {
		t.Error("no Killing event")
	}
}

// TestPreStopEndingItsContainer: a preStop hook that makes its container
// exit is killed with it (exit 137); that is no failed hook.
func TestPreStopEndingItsContainer(t *testing.T) {
	h := newHarness(t)
	h.rt.SetExec(func(id string, _ []string, _ time.Duration) ([]byte, int, error) {
		h.rt.Exit(id, 0, false)
		return nil, 137, nil
	})
	p := testPod("stop3", "h3", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Lifecycle = &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"killall", "sleep"}}}}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.phase("h3") == v1.PodRunning })
	h.m.Sync(context.Background(), nil)
	h.waitFor("gone", func() bool { return h.pod("h3") == nil })
	if h.hasEvent("FailedPreStopHook", "") {
		t.Error("FailedPreStopHook for a hook whose container exited")
	}
}

func TestFailedPostStartKillsTheContainer(t *testing.T) {
	h := newHarness(t)
	h.rt.SetExec(func(string, []string, time.Duration) ([]byte, int, error) { return []byte("secret-token"), 1, nil })
	p := testPod("post", "h3", v1.RestartPolicyNever, "c")
	p.Spec.Containers[0].Lifecycle = &v1.Lifecycle{PostStart: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"setup"}}}}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("PostStartHookError", func() bool {
		p := h.pod("h3")
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "PostStartHookError"
	})
	if c := h.container("h3", "c"); c.State != runtime.StateExited {
		t.Errorf("container %s after a failed postStart, want exited", c.State)
	}
	if !h.hasEvent("FailedPostStartHook", "PostStartHook failed") {
		t.Error("no FailedPostStartHook event")
	}
	if h.hasEvent("FailedPostStartHook", "secret-token") {
		t.Error("a hook's output leaked into an event")
	}
}

func TestPodShownWhilePostStartRuns(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	h.rt.SetExec(func(string, []string, time.Duration) ([]byte, int, error) {
		<-release
		return nil, 0, nil
	})
	p := testPod("slow", "h4", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Lifecycle = &v1.Lifecycle{PostStart: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"setup"}}}}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("pod listed as ContainerCreating while the hook runs", func() bool {
		p := h.pod("h4")
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "ContainerCreating" && !cs.Ready && h.container("h4", "c").State == runtime.StateRunning
	})
	if h.phase("h4") != v1.PodPending {
		t.Errorf("phase %s while postStart runs, want Pending", h.phase("h4"))
	}
	close(release)
	h.waitFor("running once the hook returned", func() bool { return h.phase("h4") == v1.PodRunning })
}
