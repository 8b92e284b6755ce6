package pod

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// podState is where a pod worker is in its life:
//
//	waiting ──predecessor gone──> syncing ──kill──> terminating ──nothing left──> terminated
//	   └─────────────────kill───────────────────────────^
//
// waiting: a pod of the same name is still being terminated; syncing: the
// pod is driven toward its spec; terminating: it is being stopped and
// removed; terminated: nothing of it is left. A worker whose daemon stops
// keeps its state (the pod is left as it is), and no state is left for an
// earlier one.
type podState int

const (
	stateWaiting podState = iota
	stateSyncing
	stateTerminating
	stateTerminated
)

func (s podState) String() string {
	switch s {
	case stateWaiting:
		return "waiting"
	case stateSyncing:
		return "syncing"
	case stateTerminating:
		return "terminating"
	case stateTerminated:
		return "terminated"
	}
	return "unknown"
}

// podWorker is the state machine of one pod: it owns the goroutine, the
// wake-up, the kill and done channels and the wait for its predecessor,
// and hands the work to its syncer. Only the goroutine calls the syncer.
type podWorker struct {
	pod   *v1.Pod
	log   *zap.Logger
	clock clock.Clock
	s     *syncer

	// state is touched only by run's goroutine.
	state podState
	// after is closed when the previous pod of the same name is gone.
	after <-chan struct{}
	wake  chan struct{}
	// killed is closed once when the pod must terminate; kills are never
	// overwritten by later updates.
	killed   chan struct{}
	killOnce sync.Once
	done     chan struct{}

	// tracked are the container IDs the manager routes to this worker;
	// guarded by the manager's mu.
	tracked map[string]struct{}
}

// newPodWorker returns the worker of p, to be handed its syncer (made with
// the worker's signals) before it runs.
func newPodWorker(p *v1.Pod, log *zap.Logger, clk clock.Clock, after <-chan struct{}) *podWorker {
	return &podWorker{
		pod:     p,
		log:     log,
		clock:   clk,
		after:   after,
		wake:    make(chan struct{}, 1),
		killed:  make(chan struct{}),
		done:    make(chan struct{}),
		tracked: map[string]struct{}{},
	}
}

// signals are the worker's, for its syncer.
func (w *podWorker) signals() signals { return signals{killed: w.killed, poke: w.poke} }

// signals are what a syncer may see of its worker: whether the pod is
// being killed, and a way to ask for another sync soon.
type signals struct {
	killed <-chan struct{}
	poke   func()
}

// isKilled reports whether the pod must terminate.
func (s signals) isKilled() bool {
	select {
	case <-s.killed:
		return true
	default:
		return false
	}
}

// poke asks the worker to sync soon; pokes coalesce.
func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) kill() { w.killOnce.Do(func() { close(w.killed) }) }

// enter moves the worker to state to; only run calls it, in the order of
// podState's doc.
func (w *podWorker) enter(to podState) {
	w.log.Debug("pod worker state", zap.Stringer("from", w.state), zap.Stringer("to", to))
	w.state = to
}

// run is the worker's loop: sync, then sleep until an event, a due time or
// a kill. When ctx ends (the daemon stops) the pod is left running.
func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	if !w.waitForPredecessor(ctx) {
		return
	}
	w.enter(stateSyncing)
	w.s.begin(ctx)
	for {
		if w.signals().isKilled() {
			w.enter(stateTerminating)
			if w.s.terminate(ctx) {
				w.enter(stateTerminated)
			}
			return
		}
		next := w.s.sync(ctx)
		var timer <-chan time.Time
		if !next.IsZero() {
			d := next.Sub(w.clock.Now())
			if d < 0 {
				d = 0
			}
			timer = w.clock.After(d)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.killed:
		case <-w.wake:
		case <-timer:
		}
	}
}

// waitForPredecessor waits until the previous pod of the same name is
// gone; false when ctx ended first.
func (w *podWorker) waitForPredecessor(ctx context.Context) bool {
	if w.after == nil {
		return true
	}
	select {
	case <-w.after:
		return true
	case <-ctx.Done():
		return false
	}
}

// evict hands the worker an eviction to carry out at its next sync; the
// first one wins.
func (w *podWorker) evict(f *podFailure) {
	if w.s.evicting.CompareAndSwap(nil, f) {
		w.poke()
	}
}
