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
func (w *worker) sync(ctx context.Context) time.Time {
	obs, _, err := w.listRecorded(ctx)
	if err != nil {
		w.m.o.Metrics.runtimeErrors.WithLabelValues("list").Inc()
		w.log.Error("list pod containers", zap.Error(err))
		return w.m.o.Clock.Now().Add(5 * time.Second)
	}
	var due time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	defer func() { w.report(obs, sandboxRunning(obs)) }()

	w.checkEviction(ctx, obs)
	soonest(w.checkFailure(w.startTime(obs)))
	if w.failed != nil {
		// Failed as a whole: stop what runs, start nothing.
		w.stopAll(ctx, obs)
		if cur, _, err := w.listRecorded(ctx); err == nil {
			obs = cur
		}
		return time.Time{}
	}
	if w.terminal() {
		return time.Time{}
	}
	sb, relisted, next := w.ensureSandbox(ctx, obs)
	soonest(next)
	if relisted != nil {
		obs = *relisted
	}
	w.sandboxSeen = obs.at
	if sb == nil {
		w.m.setSandbox(w.pod.UID, "")
		return due
	}
	w.m.setSandbox(w.pod.UID, sb.ID)
	w.podIP = podIPOf(obs)
	if w.syncProbes(ctx, obs) {
		// A container was killed for failing a probe: record its exit so
		// the restart policy sees it in this pass.
		cur, _, err := w.listRecorded(ctx)
		if err != nil {
			return w.m.o.Clock.Now().Add(time.Second)
		}
		obs = cur
	}
	initDone := true
	for i := range w.pod.Spec.InitContainers {
		c := &w.pod.Spec.InitContainers[i]
		if initContainerDone(obs, c) {
			if isSidecar(c) {
				soonest(w.syncContainer(ctx, obs, sb, c, v1.RestartPolicyAlways))
			}
			continue
		}
		policy := w.pod.Spec.RestartPolicy
		if policy == v1.RestartPolicyAlways {
			// A failed init container is retried even under Always.
			policy = v1.RestartPolicyOnFailure
		}
		if isSidecar(c) {
			policy = v1.RestartPolicyAlways
		}
		next := w.syncContainer(ctx, obs, sb, c, policy)
		soonest(next)
		if isSidecar(c) && next.IsZero() {
			// A sidecar only has to start: look again at once, so the
			// next init container (or the app) starts without waiting
			// for an event that will not come.
			w.poke()
		}
		initDone = false
		break
	}
	if initDone {
		for i := range w.pod.Spec.Containers {
			soonest(w.syncContainer(ctx, obs, sb, &w.pod.Spec.Containers[i], w.pod.Spec.RestartPolicy))
		}
	}
	// A container that exited already (a quick command) is recorded
	// before the status goes out, so its first terminated state is whole
	// (termination message included).
	last, recorded, err := w.listRecorded(ctx)
	if err != nil {
		// The status goes out from what was seen before.
		w.log.Error("list pod containers", zap.Error(err))
		return due
	}
	obs = last
	if recorded {
		w.poke()
	}
	// Containers started in this pass get their probes now, not at the
	// next event: initialDelaySeconds counts from their start.
	if w.syncProbes(ctx, obs) {
		w.poke()
	}
	return due
}

// terminal reports a pod that reached Succeeded or Failed: nothing of it
// is ever started again.
func (w *worker) terminal() bool {
	return w.lastStatus != nil && (w.lastStatus.Phase == v1.PodSucceeded || w.lastStatus.Phase == v1.PodFailed)
}

func sandboxRunning(o observed) bool {
	sb := o.sandbox()
	return sb != nil && sb.State == runtime.StateRunning
}

// listRecorded lists the pod's containers and records the exits it finds
// (recordExits), listing again when there were any so that the result
// shows them recorded. recorded says whether there were.
func (w *worker) listRecorded(ctx context.Context) (obs observed, recorded bool, err error) {
	if obs, err = w.list(ctx); err != nil || !w.recordExits(ctx, obs) {
		return obs, false, err
	}
	obs, err = w.list(ctx)
	return obs, true, err
}

// recordExits stores the exit of every task that ended and deletes the
// task, so the shim's resources go and the exit survives in labels.
func (w *worker) recordExits(ctx context.Context, obs observed) bool {
	any := false
	record := func(c runtime.Container) {
		if c.State == runtime.StateExited && c.TaskAlive {
			any = true
			if err := w.m.o.Runtime.RecordExit(ctx, c.ID); err != nil {
				w.log.Warn("record container exit", zap.String("container", c.ID), zap.Error(err))
			}
			w.recordTerminationMessage(ctx, c)
		}
	}
	for _, s := range obs.containers {
		for _, c := range s {
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
func (w *worker) ensureSandbox(ctx context.Context, obs observed) (sb *runtime.Container, relisted *observed, due time.Time) {
	cur := obs.sandbox()
	if cur != nil && cur.State == runtime.StateRunning {
		return cur, nil, time.Time{}
	}
	now := w.m.o.Clock.Now()
	if now.Before(w.sandboxDue) {
		return nil, nil, w.sandboxDue
	}
	// Whatever happens below changes the pod's containers.
	relist := func(due time.Time) (*runtime.Container, *observed, time.Time) {
		o, err := w.list(ctx)
		if err != nil {
			return nil, nil, now.Add(time.Second)
		}
		if s := o.sandbox(); s != nil && s.State == runtime.StateRunning {
			return s, &o, due
		}
		if due.IsZero() {
			due = now.Add(time.Second)
		}
		return nil, &o, due
	}
	attempt := 0
	if cur != nil {
		attempt = cur.Attempt() + 1
		w.event("", v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		// As the kubelet kills a pod whose sandbox changed: each container
		// with its preStop hook and the pod's grace period. The pinned
		// network namespace and the containers' own namespaces outlive
		// the pause process, so the hooks still run where they expect.
		w.stopAll(ctx, obs)
		for _, old := range obs.sandboxes {
			if err := w.m.o.Sandboxes.Remove(ctx, old.ID); err != nil {
				// Its network is still attached: a new sandbox now would
				// have its hostPorts shadowed by the dead one's rules.
				// The removal (and so the CNI DEL) is retried first.
				return relist(w.sandboxFailed(fmt.Errorf("release dead sandbox %s: %w", old.ID, err)))
			}
		}
	}
	if attempt == 0 && w.pod.Spec.DNSPolicy == v1.DNSClusterFirst && !w.pod.Spec.HostNetwork {
		// No cluster DNS on a lone node: say so, as the kubelet does.
		w.event("", v1.EventTypeWarning, "MissingClusterDNS", fmt.Sprintf(
			"pod: %q. minikubelet has no cluster DNS and cannot create the pod using %q policy. Falling back to %q policy.",
			w.pod.Name+"_"+w.pod.Namespace+"("+string(w.pod.UID)+")", v1.DNSClusterFirst, v1.DNSDefault))
	}
	if _, err := w.m.o.Sandboxes.Prepare(w.pod, ""); err != nil {
		return relist(w.sandboxFailed(err))
	}
	id := newID()
	w.m.track(id, w)
	if err := w.m.o.Sandboxes.Run(ctx, w.pod, id, attempt); err != nil {
		return relist(w.sandboxFailed(err))
	}
	w.sandboxSteps = 0
	return relist(time.Time{})
}

func (w *worker) sandboxFailed(err error) time.Time {
	w.m.o.Metrics.runtimeErrors.WithLabelValues("run_sandbox").Inc()
	w.log.Error("create pod sandbox", zap.Error(err))
	w.event("", v1.EventTypeWarning, "FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: %v", err))
	w.sandboxSteps++
	delay := lifecycle.Delay(w.sandboxSteps, w.m.o.BackOff)
	w.sandboxDue = w.m.o.Clock.Now().Add(delay)
	return w.sandboxDue
}

// syncContainer starts a container that never ran, and restarts an exited
// one when policy and back-off allow. It returns when to look again.
func (w *worker) syncContainer(ctx context.Context, obs observed, sb *runtime.Container, c *v1.Container, policy v1.RestartPolicy) time.Time {
	now := w.m.o.Clock.Now()
	cur := obs.latest(c.Name)
	if due, ok := w.due[c.Name]; ok && now.Before(due) {
		if wt := w.waiting[c.Name]; wt.Reason == "ErrImagePull" {
			flip := wt.Since.Add(imagePullBackOffAfter)
			if now.Before(flip) {
				return flip
			}
			msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
			w.waiting[c.Name] = waiting{Reason: "ImagePullBackOff", Message: msg, Since: now}
			w.event(c.Name, v1.EventTypeNormal, "BackOff", msg)
		}
		return due
	}
	attempt := 0
	switch {
	case cur == nil:
	case cur.State == runtime.StateRunning:
		delete(w.waiting, c.Name)
		return time.Time{}
	case cur.State == runtime.StateCreated:
		// Created but never started (the daemon stopped in between):
		// throw it away and make the same attempt again.
		if err := w.m.o.Runtime.RemoveContainer(ctx, cur.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			w.log.Warn("remove unstarted container", zap.String("container", cur.ID), zap.Error(err))
			return now.Add(time.Second)
		}
		attempt = cur.Attempt()
	case cur.State == runtime.StateExited:
		step, ok := w.steps[c.Name]
		if !ok {
			// After a daemon restart the step is unknown; the restart
			// count bounds it from above.
			step = cur.Attempt()
		}
		d := lifecycle.Decide(policy, lifecycle.Exit{ExitCode: cur.ExitCode, StartedAt: cur.StartedAt, FinishedAt: cur.FinishedAt}, step, w.m.o.BackOff)
		if !d.Restart {
			delete(w.waiting, c.Name)
			return time.Time{}
		}
		if !d.At.IsZero() && now.Before(d.At) {
			w.steps[c.Name] = d.Step - 1
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", d.Delay, c.Name, w.pod.Name, w.pod.Namespace, w.pod.UID)
			if w.waiting[c.Name].Reason != "CrashLoopBackOff" {
				w.event(c.Name, v1.EventTypeWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, w.pod.Name, w.pod.Namespace, w.pod.UID))
			}
			w.waiting[c.Name] = waiting{Reason: "CrashLoopBackOff", Message: msg}
			return d.At
		}
		w.steps[c.Name] = d.Step
		attempt = cur.Attempt() + 1
	default:
		return now.Add(time.Second)
	}
	return w.startContainer(ctx, obs, sb, c, attempt)
}
