package prober

import (
	"context"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
)

// worker runs one probe of one container attempt.
//
// Its life, as doProbe's keepGoing draws it:
//
//	waiting ──delay passed, startup succeeded──> probing ──threshold──> publish
//	                                               ^  │                    │
//	                                               └──┘ (below threshold)  │
//	   liveness/startup Failure, startup Success: done (returns false) <───┘
//
// A liveness or startup Failure ends the attempt (the consumer kills the
// container; the next attempt gets new workers), and a startup Success is
// final for the attempt, so those workers stop instead of idling.
type worker struct {
	m      *Manager
	kind   Kind
	probe  *v1.Probe
	target Target
	params params
	dial   Dialer
	log    *zap.Logger

	// trigger asks for a probe now instead of at the next tick: readiness
	// is probed as soon as the startup probe succeeds, not a period later.
	trigger chan struct{}

	// last is the last attempt's result and run how many attempts in a row
	// had it; a result is published once run reaches its threshold.
	last Result
	run  int
}

// newWorker makes the worker of kind k; log already names the attempt.
func newWorker(m *Manager, k Kind, t Target, dial Dialer, log *zap.Logger) *worker {
	p := k.probe(t.Container)
	return &worker{
		m:       m,
		kind:    k,
		probe:   p,
		target:  t,
		params:  paramsOf(p),
		dial:    dial,
		log:     log.With(zap.String("kind", k.String())),
		trigger: make(chan struct{}, 1),
	}
}

// loop probes once at start and then every period until doProbe says stop
// or ctx ends.
//
// The kubelet delays a worker's first probe by a random part of the period
// so that many containers started together do not probe in lockstep. We
// don't: a single node with a handful of pods gains little from it, and
// without it a probe's timing follows from its spec alone, which the tests
// (and people reading events) rely on. initialDelaySeconds still applies.
func (w *worker) loop(ctx context.Context) {
	ticker := w.m.clock.NewTicker(w.params.period)
	defer ticker.Stop()
	for w.doProbe(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		case <-w.trigger:
		}
	}
}

// poke asks the worker to probe now; a poke already pending is enough.
func (w *worker) poke() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// doProbe is one step of the worker: it probes if it is time to, applies
// the thresholds, and publishes. It returns false when the worker is done.
func (w *worker) doProbe(ctx context.Context) (keepGoing bool) {
	if ctx.Err() != nil {
		return false
	}
	id := w.target.ContainerID
	if w.kind != Startup && w.target.Container.StartupProbe != nil {
		// Held back until the startup probe passes; the result stays at its
		// initial value (alive, not ready).
		if r, _ := w.m.results.get(id, Startup); r != Success {
			return true
		}
	}
	if w.m.clock.Since(w.target.StartedAt) < w.params.delay {
		return true
	}

	start := w.m.clock.Now()
	res, msg := run(ctx, w.probe, w.target, w.m.execer, w.dial, w.m.kubeVersion)
	if ctx.Err() != nil {
		return false // stopped mid-probe: the attempt says nothing
	}
	if w.m.observe != nil && res != Unknown {
		w.m.observe(w.kind, res, w.m.clock.Since(start))
	}
	if res == Unknown {
		// The probe could not run (misconfigured, runtime error): like the
		// kubelet, neither count it nor act on it.
		w.log.Warn("probe could not run", zap.String("reason", msg))
		return true
	}

	u := Update{
		PodUID:      w.target.PodUID,
		Container:   w.target.Container.Name,
		ContainerID: id,
		Kind:        w.kind,
		Result:      res,
		GracePeriod: w.probe.TerminationGracePeriodSeconds,
	}
	switch {
	case res == Failure:
		u.Message = w.kind.String() + " probe failed: " + msg
	case msg != "":
		u.Message = w.kind.String() + " probe warning: " + msg
	}
	if u.Message != "" && w.m.report != nil {
		// Every failed attempt is an event for the kubelet (Unhealthy), not
		// only the one that crosses the threshold.
		w.m.report(u)
	}

	if res == w.last {
		w.run++
	} else {
		w.last, w.run = res, 1
	}
	threshold := w.params.failure
	if res == Success {
		threshold = w.params.success
	}
	if w.run < threshold {
		return true
	}
	if w.m.results.set(u) {
		w.log.Info("probe result changed", zap.Stringer("result", res), zap.String("message", u.Message))
	}

	switch {
	case w.kind == Startup && res == Success:
		// Set before poking, so the readiness worker sees the startup
		// success when it wakes.
		w.m.pokeReadiness(id)
		return false
	case w.kind != Readiness && res == Failure:
		return false
	}
	return true
}
