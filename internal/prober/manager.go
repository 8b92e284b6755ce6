package prober

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Options configure a Manager.
type Options struct {
	// Execer runs exec probes; without one they never run (and never fail).
	Execer Execer
	// Dial returns the dialer into a pod's network namespace. AddContainer
	// calls it once per attempt whose Target has no PodIP; it may be nil if
	// every target has one.
	Dial func(podUID types.UID) Dialer
	// Clock drives periods and initial delays; nil means the real clock.
	Clock clock.WithTicker
	// Logger is named "prober" by the Manager; nil means no logs.
	Logger *zap.Logger
	// KubeVersion is "<major>.<minor>" for User-Agent kube-probe/<v>;
	// empty means DefaultKubeVersion.
	KubeVersion string
	// Report, if set, is called by the workers after every probe attempt
	// that failed (Result Failure, Message "Liveness probe failed: ...") or
	// passed with a warning (Result Success, Message "... probe warning:
	// ..."), before thresholds apply: the kubelet's Unhealthy and
	// ProbeWarning events. Updates only carries changes, so a readiness
	// probe that never passes would otherwise leave no event at all. It is
	// called concurrently from many workers and must not block.
	Report func(Update)
	// Observe, if set, is called after every probe attempt that ran, with
	// its result and how long it took (for metrics). Concurrent; must not
	// block.
	Observe func(k Kind, r Result, took time.Duration)
}

// Manager runs the probe workers of every container attempt and keeps
// their results.
type Manager struct {
	execer      Execer
	dialFor     func(types.UID) Dialer
	clock       clock.WithTicker
	log         *zap.Logger
	kubeVersion string
	report      func(Update)
	observe     func(Kind, Result, time.Duration)

	results *results
	stop    chan struct{} // closed by Stop: ends the forwarder
	fwdDone chan struct{}

	mu       sync.Mutex
	stopped  bool
	attempts map[string]*attempt // by container id
}

// attempt is the set of workers of one container attempt.
type attempt struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	workers map[Kind]*worker
}

// NewManager returns a running Manager; Stop it when done.
func NewManager(o Options) *Manager {
	m := &Manager{
		execer:      o.Execer,
		dialFor:     o.Dial,
		clock:       o.Clock,
		log:         o.Logger,
		kubeVersion: o.KubeVersion,
		report:      o.Report,
		observe:     o.Observe,
		results:     newResults(),
		stop:        make(chan struct{}),
		fwdDone:     make(chan struct{}),
		attempts:    make(map[string]*attempt),
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.log == nil {
		m.log = zap.NewNop()
	}
	m.log = m.log.Named("prober")
	if m.kubeVersion == "" {
		m.kubeVersion = DefaultKubeVersion
	}
	go func() {
		defer close(m.fwdDone)
		m.results.forward(m.stop)
	}()
	return m
}

// AddContainer starts the workers of a running container attempt, one per
// probe kind it declares, and seeds their initial results (readiness
// Failure, liveness Success, startup Unknown; not published). It does
// nothing for an attempt it already runs, for a container without probes,
// for a Target without Container or ContainerID, or after Stop. The
// Target's pod and container are copied.
func (m *Manager) AddContainer(t Target) {
	m.add(t, true)
}

// add registers an attempt and its workers and seeds their results. It
// starts the workers only if start is set: tests drive their doProbe
// themselves. It returns nil when there is nothing to run.
func (m *Manager) add(t Target, start bool) *attempt {
	if t.Container == nil || t.ContainerID == "" {
		m.log.Error("add container without container or id", zap.String("pod", t.Namespace+"/"+t.PodName))
		return nil
	}
	t.Container = t.Container.DeepCopy()
	t.Pod = t.Pod.DeepCopy()

	var hasProbe bool
	for _, k := range kinds {
		hasProbe = hasProbe || k.probe(t.Container) != nil
	}
	if !hasProbe {
		return nil // no probes: nothing to run, nothing to remember
	}

	var dial Dialer
	if t.PodIP == "" && m.dialFor != nil {
		dial = m.dialFor(t.PodUID)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped || m.attempts[t.ContainerID] != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &attempt{cancel: cancel, workers: make(map[Kind]*worker)}
	m.attempts[t.ContainerID] = a
	log := m.log.With(
		zap.String("pod", t.Namespace+"/"+t.PodName),
		zap.String("container", t.Container.Name),
		zap.String("containerID", t.ContainerID),
	)
	// Seed every result before any worker runs: the store ignores results
	// for probes it does not know, which is what keeps a worker finishing
	// after RemoveContainer from resurrecting its attempt.
	for _, k := range kinds {
		if k.probe(t.Container) != nil {
			m.results.seed(t.ContainerID, k, k.initial())
			a.workers[k] = newWorker(m, k, t, dial, log)
		}
	}
	if start {
		// Under m.mu, so a concurrent RemoveContainer or Stop cannot Wait
		// before these Adds.
		for _, w := range a.workers {
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				w.loop(ctx)
			}()
		}
	}
	return a
}

// RemoveContainer stops the workers of an attempt (its container exited or
// was killed, or the pod is going away) and forgets its results, including
// changes not yet delivered. It cancels probes in flight and returns once
// every worker has exited. Container ids are not reused.
func (m *Manager) RemoveContainer(containerID string) {
	m.mu.Lock()
	a := m.attempts[containerID]
	delete(m.attempts, containerID)
	m.mu.Unlock()
	if a == nil {
		return
	}
	a.cancel()
	a.wg.Wait()
	m.results.remove(containerID)
}

// Updates delivers result changes: a result is sent when it differs from
// the last one sent (or seeded) for that container attempt and kind. A slow
// consumer never blocks the workers: changes wait per (attempt, kind), and
// only the newest is delivered. Initial results are not sent; an update for
// an attempt just removed may still arrive and should be ignored. The
// channel is closed by Stop.
func (m *Manager) Updates() <-chan Update {
	return m.results.out
}

// Result returns the current result of an attempt's probe of kind k; false
// if the attempt has no such probe (or was never added, or was removed).
func (m *Manager) Result(containerID string, k Kind) (Result, bool) {
	return m.results.get(containerID, k)
}

// Started reports whether an attempt counts as started: its startup probe
// has succeeded, or it has none. Whether the container runs is the
// caller's to know.
func (m *Manager) Started(containerID string) bool {
	r, ok := m.results.get(containerID, Startup)
	return !ok || r == Success
}

// Ready reports whether an attempt counts as ready: started, and its
// readiness probe has succeeded or it has none. Whether the container runs
// is the caller's to know.
func (m *Manager) Ready(containerID string) bool {
	if !m.Started(containerID) {
		return false
	}
	r, ok := m.results.get(containerID, Readiness)
	return !ok || r == Success
}

// Stop stops every worker, waits for them, and closes Updates. It is safe
// to call more than once.
func (m *Manager) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		<-m.fwdDone
		return
	}
	m.stopped = true
	all := m.attempts
	m.attempts = make(map[string]*attempt)
	m.mu.Unlock()

	for _, a := range all {
		a.cancel()
	}
	for id, a := range all {
		a.wg.Wait()
		m.results.remove(id)
	}
	close(m.stop)
	<-m.fwdDone
}

// pokeReadiness makes the attempt's readiness worker probe now.
func (m *Manager) pokeReadiness(containerID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.attempts[containerID]; a != nil {
		if w := a.workers[Readiness]; w != nil {
			w.poke()
		}
	}
}
