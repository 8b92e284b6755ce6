package pod

import (
	"context"
	"errors"
	"testing"
	"time"

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

	h.m.Sync(context.Background(), []*v1.Pod{stalled})
	h.waitFor("waiter gone", func() bool { return h.pod("u51") == nil })
	h.m.Sync(context.Background(), nil)
	h.waitFor("stalled pod gone", func() bool { return h.pod("u50") == nil })
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

// TestSlowFailedPullShowsErrImagePull: a pull that fails after a long
// wait (a stalled registry's deadline) shows ErrImagePull for its moment
// from the failure, then ImagePullBackOff, and is retried after the
// back-off counted from the failure, not from the pull's start.
func TestSlowFailedPullShowsErrImagePull(t *testing.T) {
	h := newHarness(t)
	h.rt.OnPull(func(context.Context, string) error {
		h.clock.Step(time.Minute) // the pull's deadline
		return errors.New("image pull stalled")
	})
	p := testPod("slow", "u52", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].ImagePullPolicy = v1.PullAlways
	reason := func() string {
		p := h.pod("u52")
		if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return ""
		}
		return p.Status.ContainerStatuses[0].State.Waiting.Reason
	}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("ErrImagePull", func() bool { return reason() == "ErrImagePull" })
	time.Sleep(20 * time.Millisecond)
	if r := reason(); r != "ErrImagePull" {
		t.Fatalf("reason %q right after the failure, want ErrImagePull for 2s", r)
	}
	h.clock.Step(2 * time.Second)
	h.waitFor("ImagePullBackOff", func() bool { return reason() == "ImagePullBackOff" })
	pulls := h.rt.CountCalls("PullImage")
	h.clock.Step(7 * time.Second) // 9 s after the failure
	time.Sleep(20 * time.Millisecond)
	if n := h.rt.CountCalls("PullImage"); n != pulls {
		t.Fatalf("pulled again %d times before the 10 s back-off from the failure", n-pulls)
	}
}
