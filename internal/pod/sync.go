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

// sync is one pass toward the pod's spec: record exits, make sure the
// sandbox runs, run init containers in order, then start or restart app
// containers as the restart policy says. It returns when the worker should
// look again without an event (zero: only on events).
func (s *syncer) sync(ctx context.Context) time.Time {
	obs, _, err := s.listRecorded(ctx)
	if err != nil {
		s.metrics.runtimeErrors.WithLabelValues("list").Inc()
		s.log.Error("list pod containers", zap.Error(err))
		return s.clock.Now().Add(5 * time.Second)
	}
	var due time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	defer func() { s.report(obs, sandboxRunning(obs)) }()

	s.checkEviction(ctx, obs)
	soonest(s.checkFailure(s.startTime(obs)))
	if s.failed != nil {
		// Failed as a whole: stop what runs, start nothing.
		s.stopAll(ctx, obs)
		if cur, _, err := s.listRecorded(ctx); err == nil {
			obs = cur
		}
		return time.Time{}
	}
	if s.terminal() {
		return time.Time{}
	}
	sb, relisted, next := s.ensureSandbox(ctx, obs)
	soonest(next)
	if relisted != nil {
		obs = *relisted
	}
	s.sandboxSeen = obs.at
	if sb == nil {
		s.routes.setSandbox("")
		return due
	}
	s.routes.setSandbox(sb.ID)
	s.podIP = podIPOf(obs)
	if s.syncProbes(ctx, obs) {
		// A container was killed for failing a probe: record its exit so
		// the restart policy sees it in this pass.
		cur, _, err := s.listRecorded(ctx)
		if err != nil {
			return s.clock.Now().Add(time.Second)
		}
		obs = cur
	}
	initDone := true
	for i := range s.pod.Spec.InitContainers {
		c := &s.pod.Spec.InitContainers[i]
		if initContainerDone(obs, c) {
			if isSidecar(c) {
				soonest(s.syncContainer(ctx, obs, sb, c, v1.RestartPolicyAlways))
			}
			continue
		}
		policy := s.pod.Spec.RestartPolicy
		if policy == v1.RestartPolicyAlways {
			// A failed init container is retried even under Always.
			policy = v1.RestartPolicyOnFailure
		}
		if isSidecar(c) {
			policy = v1.RestartPolicyAlways
		}
		next := s.syncContainer(ctx, obs, sb, c, policy)
		soonest(next)
		if isSidecar(c) && next.IsZero() {
			// A sidecar only has to start: look again at once, so the
			// next init container (or the app) starts without waiting
			// for an event that will not come.
			s.poke()
		}
		initDone = false
		break
	}
	if initDone {
		for i := range s.pod.Spec.Containers {
			soonest(s.syncContainer(ctx, obs, sb, &s.pod.Spec.Containers[i], s.pod.Spec.RestartPolicy))
		}
	}
	// A container that exited already (a quick command) is recorded
	// before the status goes out, so its first terminated state is whole
	// (termination message included).
	last, recorded, err := s.listRecorded(ctx)
	if err != nil {
		// The status goes out from what was seen before.
		s.log.Error("list pod containers", zap.Error(err))
		return due
	}
	obs = last
	if recorded {
		s.poke()
	}
	// Containers started in this pass get their probes now, not at the
	// next event: initialDelaySeconds counts from their start.
	if s.syncProbes(ctx, obs) {
		s.poke()
	}
	return due
}

// terminal reports a pod that reached Succeeded or Failed: nothing of it
// is ever started again.
func (s *syncer) terminal() bool {
	return s.lastStatus != nil && (s.lastStatus.Phase == v1.PodSucceeded || s.lastStatus.Phase == v1.PodFailed)
}

func sandboxRunning(o observed) bool {
	sb := o.newestSandbox()
	return sb != nil && sb.State == runtime.StateRunning
}

// listRecorded lists the pod's containers and records the exits it finds
// (recordExits), listing again when there were any so that the result
// shows them recorded. recorded says whether there were.
func (s *syncer) listRecorded(ctx context.Context) (obs observed, recorded bool, err error) {
	if obs, err = s.list(ctx); err != nil || !s.recordExits(ctx, obs) {
		return obs, false, err
	}
	obs, err = s.list(ctx)
	return obs, true, err
}

// recordExits stores the exit of every task that ended and deletes the
// task, so the shim's resources go and the exit survives in labels.
func (s *syncer) recordExits(ctx context.Context, obs observed) bool {
	any := false
	record := func(c runtime.Container) {
		if c.State == runtime.StateExited && c.TaskAlive {
			any = true
			if err := s.rt.RecordExit(ctx, c.ID); err != nil {
				s.log.Warn("record container exit", zap.String("container", c.ID), zap.Error(err))
			}
			s.recordTerminationMessage(ctx, c)
		}
	}
	for _, attempts := range obs.containers {
		for _, c := range attempts {
			record(c)
		}
	}
	for _, c := range obs.sandboxes {
		record(c)
	}
	return any
}

// ensureSandbox returns the running sandbox, creating one when there is
// none or the old one died (then every container of the pod is stopped
// first: they live in the dead sandbox's namespaces). When it changed
// anything it also returns the pod's containers as they are now (nil when
// they could not be listed: the caller keeps what it had and looks again
// at due).
func (s *syncer) ensureSandbox(ctx context.Context, obs observed) (sb *runtime.Container, relisted *observed, due time.Time) {
	cur := obs.newestSandbox()
	if cur != nil && cur.State == runtime.StateRunning {
		return cur, nil, time.Time{}
	}
	now := s.clock.Now()
	if now.Before(s.sandboxDue) {
		return nil, nil, s.sandboxDue
	}
	// Whatever happens below changes the pod's containers.
	relist := func(due time.Time) (*runtime.Container, *observed, time.Time) {
		o, err := s.list(ctx)
		if err != nil {
			return nil, nil, now.Add(time.Second)
		}
		if running := o.newestSandbox(); running != nil && running.State == runtime.StateRunning {
			return running, &o, due
		}
		if due.IsZero() {
			due = now.Add(time.Second)
		}
		return nil, &o, due
	}
	attempt := 0
	if cur != nil {
		attempt = cur.Attempt() + 1
		s.event("", v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		// As the kubelet kills a pod whose sandbox changed: each container
		// with its preStop hook and the pod's grace period. The pinned
		// network namespace and the containers' own namespaces outlive
		// the pause process, so the hooks still run where they expect.
		s.stopAll(ctx, obs)
		for _, old := range obs.sandboxes {
			if err := s.sandboxes.Remove(ctx, old.ID); err != nil {
				// Its network is still attached: a new sandbox now would
				// have its hostPorts shadowed by the dead one's rules.
				// The removal (and so the CNI DEL) is retried first.
				return relist(s.sandboxFailed(fmt.Errorf("release dead sandbox %s: %w", old.ID, err)))
			}
		}
	}
	if attempt == 0 && s.pod.Spec.DNSPolicy == v1.DNSClusterFirst && !s.pod.Spec.HostNetwork {
		// No cluster DNS on a lone node: say so, as the kubelet does.
		s.event("", v1.EventTypeWarning, "MissingClusterDNS", fmt.Sprintf(
			"pod: %q. minikubelet has no cluster DNS and cannot create the pod using %q policy. Falling back to %q policy.",
			s.pod.Name+"_"+s.pod.Namespace+"("+string(s.pod.UID)+")", v1.DNSClusterFirst, v1.DNSDefault))
	}
	if _, err := s.sandboxes.Prepare(s.pod, ""); err != nil {
		return relist(s.sandboxFailed(err))
	}
	id := newID()
	s.routes.track(id)
	if err := s.sandboxes.Run(ctx, s.pod, id, attempt); err != nil {
		return relist(s.sandboxFailed(err))
	}
	s.sandboxSteps = 0
	return relist(time.Time{})
}

func (s *syncer) sandboxFailed(err error) time.Time {
	s.metrics.runtimeErrors.WithLabelValues("run_sandbox").Inc()
	s.log.Error("create pod sandbox", zap.Error(err))
	s.event("", v1.EventTypeWarning, "FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: %v", err))
	s.sandboxSteps++
	delay := lifecycle.Delay(s.sandboxSteps, s.backOff)
	s.sandboxDue = s.clock.Now().Add(delay)
	return s.sandboxDue
}

// syncContainer starts a container that never ran, and restarts an exited
// one when policy and back-off allow. It returns when to look again.
func (s *syncer) syncContainer(ctx context.Context, obs observed, sb *runtime.Container, c *v1.Container, policy v1.RestartPolicy) time.Time {
	now := s.clock.Now()
	cur := obs.latest(c.Name)
	if due, ok := s.due[c.Name]; ok && now.Before(due) {
		if wt := s.waiting[c.Name]; wt.Reason == "ErrImagePull" {
			flip := wt.Since.Add(imagePullBackOffAfter)
			if now.Before(flip) {
				return flip
			}
			msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
			s.waiting[c.Name] = waiting{Reason: "ImagePullBackOff", Message: msg, Since: now}
			s.event(c.Name, v1.EventTypeNormal, "BackOff", msg)
		}
		return due
	}
	attempt := 0
	switch {
	case cur == nil:
	case cur.State == runtime.StateRunning:
		delete(s.waiting, c.Name)
		return time.Time{}
	case cur.State == runtime.StateCreated:
		// Created but never started (the daemon stopped in between):
		// throw it away and make the same attempt again.
		if err := s.rt.RemoveContainer(ctx, cur.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			s.log.Warn("remove unstarted container", zap.String("container", cur.ID), zap.Error(err))
			return now.Add(time.Second)
		}
		attempt = cur.Attempt()
	case cur.State == runtime.StateExited:
		step, ok := s.steps[restartKey(c.Name)]
		if !ok {
			// After a daemon restart the step is unknown; the restart
			// count bounds it from above.
			step = cur.Attempt()
		}
		d := lifecycle.Decide(policy, lifecycle.Exit{ExitCode: cur.ExitCode, StartedAt: cur.StartedAt, FinishedAt: cur.FinishedAt}, step, s.backOff)
		if !d.Restart {
			delete(s.waiting, c.Name)
			return time.Time{}
		}
		if !d.At.IsZero() && now.Before(d.At) {
			s.steps[restartKey(c.Name)] = d.Step - 1
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", d.Delay, c.Name, s.pod.Name, s.pod.Namespace, s.pod.UID)
			if s.waiting[c.Name].Reason != "CrashLoopBackOff" {
				s.event(c.Name, v1.EventTypeWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, s.pod.Name, s.pod.Namespace, s.pod.UID))
			}
			s.waiting[c.Name] = waiting{Reason: "CrashLoopBackOff", Message: msg}
			return d.At
		}
		s.steps[restartKey(c.Name)] = d.Step
		attempt = cur.Attempt() + 1
	default:
		return now.Add(time.Second)
	}
	return s.startContainer(ctx, obs, sb, c, attempt)
}
