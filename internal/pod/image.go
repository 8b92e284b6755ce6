package pod

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// imagePullBackOffAfter is how long a failed pull shows as ErrImagePull
// before the container waits with ImagePullBackOff.
const imagePullBackOffAfter = 2 * time.Second

// errPodDeleted ends what a pod's removal cancels.
var errPodDeleted = errors.New("pod is being deleted")

// untilKilled is ctx, cancelled (with errPodDeleted) once the pod must
// terminate; stop releases it.
func (s *syncer) untilKilled(ctx context.Context) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if s.isKilled() {
		cancel(errPodDeleted)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-s.killed:
			cancel(errPodDeleted)
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		cancel(nil)
	}
}

// ensureImage makes the container's image available as imagePullPolicy
// says, recording the kubelet's events. A failure is returned with the
// waiting reason to show; waited says the worker waited for a pull slot
// or a pull.
func (s *syncer) ensureImage(ctx context.Context, c *v1.Container) (_ *runtime.Image, waited bool, _ *waiting) {
	rt := s.rt
	if _, err := runtime.NormalizeImageRef(c.Image); err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", c.Image, err)
		s.event(c.Name, v1.EventTypeWarning, "InspectFailed", msg)
		return nil, false, &waiting{Reason: "InvalidImageName", Message: msg}
	}
	img, err := rt.GetImage(ctx, c.Image)
	present := err == nil
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return nil, false, &waiting{Reason: "ErrImagePull", Message: err.Error()}
	}
	switch {
	case c.ImagePullPolicy == v1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		s.event(c.Name, v1.EventTypeWarning, "ErrImageNeverPull", msg)
		return nil, false, &waiting{Reason: "ErrImageNeverPull", Message: msg}
	case present && c.ImagePullPolicy != v1.PullAlways:
		s.event(c.Name, v1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image))
		return img, false, nil
	}
	// A pull (and the wait for its slot) ends when the pod is removed: a
	// stalled registry must not hold the pod's termination.
	ctx, stop := s.untilKilled(ctx)
	defer stop()
	// Only this pod's worker waits for a pull slot; every other pod's
	// work goes on.
	select {
	case s.pulls <- struct{}{}:
	case <-ctx.Done():
		return nil, true, &waiting{Reason: "ErrImagePull", Message: context.Cause(ctx).Error()}
	}
	defer func() { <-s.pulls }()
	if ctx.Err() != nil || s.isKilled() {
		// The slot came free as the pod was removed: select chose either.
		return nil, true, &waiting{Reason: "ErrImagePull", Message: context.Cause(ctx).Error()}
	}
	s.event(c.Name, v1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.Image))
	start := s.clock.Now()
	img, err = rt.PullImage(ctx, c.Image)
	if err != nil && s.isKilled() {
		// Cancelled for the pod's removal: not a failure of the image.
		return nil, true, &waiting{Reason: "ErrImagePull", Message: errPodDeleted.Error()}
	}
	s.metrics.observePull(err, s.clock.Since(start))
	if err != nil {
		msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		s.event(c.Name, v1.EventTypeWarning, "Failed", msg)
		s.event(c.Name, v1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		return nil, true, &waiting{Reason: "ErrImagePull", Message: msg}
	}
	took := s.clock.Since(start).Round(time.Millisecond)
	s.event(c.Name, v1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %s. Image size: %d bytes.", c.Image, took, img.Size))
	return img, true, nil
}
