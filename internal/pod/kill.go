package pod

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/lifecycle"
	"github.com/minikubelet/minikubelet/internal/runtime"
)

// minStopGrace is what the stop signal always gets, however much of the
// grace period a preStop hook used, as in the kubelet.
const minStopGrace = 2 * time.Second

// hookTarget is where a container attempt's hooks go.
func (s *syncer) hookTarget(c *v1.Container, id string) lifecycle.HookTarget {
	return lifecycle.HookTarget{
		Pod: s.pod, Container: c, ContainerID: id,
		PodIP:       s.probeIP(),
		Dial:        s.routes.dialer(),
		KubeVersion: s.kubeVersion,
	}
}

// killContainer stops one attempt the kubelet's way: the Killing event,
// the preStop hook bounded by the grace period, then the stop signal with
// what is left of it (at least 2 s), then SIGKILL of every process.
// Callers stop the attempt's probes first. It runs concurrently for the
// containers of a pod, so it writes no syncer state: it only records
// events and reads the runtime and the Manager's tracking through their
// own locks.
func (s *syncer) killContainer(ctx context.Context, name string, a runtime.Container, grace time.Duration, message string) error {
	s.event(name, v1.EventTypeNormal, "Killing", message)
	start := s.clock.Now()
	if c, _ := containerByName(s.pod, name); c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && a.State == runtime.StateRunning {
		hctx, cancel := context.WithTimeout(ctx, grace)
		out, err := lifecycle.RunHook(hctx, c.Lifecycle.PreStop, s.hookTarget(c, a.ID), s.rt, s.clock)
		cancel()
		s.log.Debug("preStop hook ran", zap.String("container", name), zap.String("output", out), zap.Error(err))
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			// Out of grace period: as the kubelet, say so in the log only
			// and go on with the stop signal.
			s.log.Info("preStop hook not completed in the grace period", zap.String("container", name), zap.Duration("grace", grace))
		case err != nil && s.exitedWith(ctx, a.ID):
			// The hook did what a preStop hook is for: its container
			// ended, and took the hook's process with it (killed with
			// the container's PID namespace, "exited with 137") or left
			// it no task to run in. The kubelet reports this as a failed
			// hook; a warning here would only send the operator after a
			// hook that worked.
			s.log.Info("preStop hook ended with its container", zap.String("container", name), zap.NamedError("hookError", err))
		case err != nil:
			s.event(name, v1.EventTypeWarning, "FailedPreStopHook", fmt.Sprintf("PreStopHook failed: %v", err))
		}
	}
	left := grace - s.clock.Since(start)
	if left < minStopGrace {
		left = minStopGrace
	}
	if err := s.rt.StopContainer(ctx, a.ID, stopSignal(a), left); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	return nil
}

// runPostStart runs a started attempt's postStart hook. The worker waits
// for it (the container is not reported running or probed before it
// returns), but a kill of the pod cancels it. On failure the attempt is
// killed and waits with PostStartHookError; the restart policy follows.
func (s *syncer) runPostStart(ctx context.Context, c *v1.Container, id string) bool {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return true
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.killed:
			cancel()
		case <-hctx.Done():
		}
	}()
	out, err := lifecycle.RunHook(hctx, c.Lifecycle.PostStart, s.hookTarget(c, id), s.rt, s.clock)
	// The output stays in the daemon's debug log: hooks may print secrets.
	s.log.Debug("postStart hook ran", zap.String("container", c.Name), zap.String("output", out), zap.Error(err))
	if err == nil || s.isKilled() {
		// A hook cut short because the pod is going away is no failure:
		// the termination takes the container down.
		return true
	}
	msg := fmt.Sprintf("PostStartHook failed: %v", err)
	s.event(c.Name, v1.EventTypeWarning, "FailedPostStartHook", msg)
	a := runtime.Container{ID: id, State: runtime.StateRunning}
	if cur, ok := s.attempt(ctx, id); ok {
		a = cur
	}
	if err := s.killContainer(ctx, c.Name, a, s.gracePeriod(), fmt.Sprintf("Container %s failed its postStart hook, will be killed", c.Name)); err != nil {
		s.log.Error("kill container after failed postStart hook", zap.String("container", id), zap.Error(err))
	}
	s.waiting[c.Name] = waiting{Reason: "PostStartHookError", Message: msg}
	return false
}

// exitedWith reports whether the attempt id has exited (its task stopped).
func (s *syncer) exitedWith(ctx context.Context, id string) bool {
	c, ok := s.attempt(ctx, id)
	return ok && c.State == runtime.StateExited
}

// attempt looks one container up in the runtime.
func (s *syncer) attempt(ctx context.Context, id string) (runtime.Container, bool) {
	obs, err := s.list(ctx)
	if err != nil {
		return runtime.Container{}, false
	}
	for _, attempts := range obs.containers {
		for _, c := range attempts {
			if c.ID == id {
				return c, true
			}
		}
	}
	return runtime.Container{}, false
}
