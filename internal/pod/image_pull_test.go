package pod

import (
	"context"
	"errors"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// TestRemovedPodCancelsItsPull: a pod removed during a pull that never
// progresses (a stalled registry) cancels the pull and goes at once, and a
// pod waiting for the one pull slot behind it gives up as well; neither
// reports the cancel as a failed pull.
func TestRemovedPodCancelsItsPull(t *testing.T) {
	h := newHarness(t)
	pulling := make(chan string, 4)
	cancelled := make(chan error, 4)
	h.rt.OnPull(func(ctx context.Context, ref string) error {
		pulling <- ref
		<-ctx.Done()
		cancelled <- context.Cause(ctx)
		return ctx.Err()
	})
	stalled := testPod("stalled", "u50", v1.RestartPolicyAlways, "c")
	stalled.Spec.Containers[0].ImagePullPolicy = v1.PullAlways
	waiter := testPod("waiter", "u51", v1.RestartPolicyAlways, "c")
	waiter.Spec.Containers[0].ImagePullPolicy = v1.PullAlways
	h.m.Sync(context.Background(), []*v1.Pod{stalled})
	<-pulling
	h.m.Sync(context.Background(), []*v1.Pod{stalled, waiter})
	h.waitFor("waiter reported", func() bool { return h.pod("u51") != nil })

	h.m.Sync(context.Background(), nil)
	h.waitFor("both pods gone", func() bool { return h.pod("u50") == nil && h.pod("u51") == nil })
	if err := <-cancelled; !errors.Is(err, errPodDeleted) {
		t.Errorf("pull cancelled with %v, want %v", err, errPodDeleted)
	}
	if n := h.rt.CountCalls("PullImage"); n != 1 {
		t.Errorf("%d pulls, want 1 (the waiter never got the slot)", n)
	}
	if h.hasEvent("Failed", "Failed to pull image") {
		t.Error("the cancelled pull was reported as a failed pull")
	}
}
