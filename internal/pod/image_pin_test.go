package pod

import (
	"context"
	"sync/atomic"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// TestContainerPinnedToResolvedImage: the container is created from the
// image ensureImage resolved (whose config built the spec), even when its
// name moves to another image before the create (an import between the
// two steps); the rootfs and the config cannot come from two images.
func TestContainerPinnedToResolvedImage(t *testing.T) {
	h := newHarness(t)
	resolved, err := h.rt.GetImage(context.Background(), "busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	// Between ensureImage and CreateContainer, the name moves.
	var moved atomic.Bool
	h.rt.OnCall("ImageUsers", func() {
		if moved.CompareAndSwap(false, true) {
			h.rt.AddImage("busybox:1")
		}
	})
	h.m.Sync(context.Background(), []*v1.Pod{testPod("pin", "u40", v1.RestartPolicyAlways, "c")})
	h.waitFor("running", func() bool { return h.phase("u40") == v1.PodRunning })
	now, _ := h.rt.GetImage(context.Background(), "busybox:1")
	if !moved.Load() || now.ID == resolved.ID {
		t.Fatalf("the name did not move (moved %v, %s)", moved.Load(), now.ID)
	}
	ctr := h.container("u40", "c")
	req, _ := h.rt.Request(ctr.ID)
	if req.Image == nil || req.Image.Target.Digest != resolved.Target.Digest {
		t.Errorf("create request image %+v, want target %s", req.Image, resolved.Target.Digest)
	}
	if ctr.ImageID != resolved.ID {
		t.Errorf("container image %s, want the resolved %s (the name now points at %s)", ctr.ImageID, resolved.ID, now.ID)
	}
}
