package pod

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
	"github.com/minikubelet/minikubelet/internal/status"
)

// worker drives one pod. Only its own goroutine touches its fields, except
// the channels.
type worker struct {
	m   *Manager
	pod *v1.Pod
	log *zap.Logger
	rec status.Recorder

	// after is closed when the previous pod of the same name is gone.
	after <-chan struct{}
	wake  chan struct{}
	// killed is closed once when the pod must terminate; kills are never
	// overwritten by later updates.
	killed   chan struct{}
	killOnce sync.Once
	done     chan struct{}

	// In-memory facts that need no persistence: why a container waits,
	// back-off steps and the next time something is due.
	waiting map[string]waiting
	steps   map[string]int
	due     map[string]time.Time
	// failed sandbox creations, for back-off.
	sandboxSteps int
	sandboxDue   time.Time
	started      time.Time
	lastStatus   *v1.PodStatus
	// seen is when the worker got the pod; startObserved once the pod
	// start latency was recorded.
	seen          time.Time
	startObserved bool
	// tracked are the container IDs the manager routes to this worker;
	// guarded by the manager's mu.
	tracked map[string]struct{}
	// hooking is the attempt whose postStart hook runs.
	hooking string
	// probed are the attempts the prober watches.
	probed map[string]bool
	// failed ends the pod as a whole (admission, deadline or eviction).
	failed *podFailure
	// evicting is an eviction the storage check decided, for the worker
	// to carry out (set from the manager's eviction loop).
	evicting atomic.Pointer[podFailure]
	// deletedAt is set once termination starts.
	deletedAt *metav1.Time
	// podIP is the running sandbox's pod IP (CNI), for probes and hooks.
	podIP string
	// sandboxSeen is when the sandbox this sync works with (its pause
	// PID) was observed.
	sandboxSeen time.Time
}

func newWorker(m *Manager, p *v1.Pod, after <-chan struct{}) *worker {
	return &worker{
		m:       m,
		pod:     p,
		log:     m.log.With(zap.String("pod", key(p.Namespace, p.Name)), zap.String("uid", string(p.UID))),
		rec:     m.o.Store,
		after:   after,
		wake:    make(chan struct{}, 1),
		killed:  make(chan struct{}),
		done:    make(chan struct{}),
		waiting: map[string]waiting{},
		steps:   map[string]int{},
		due:     map[string]time.Time{},
		probed:  map[string]bool{},
		tracked: map[string]struct{}{},
		seen:    m.o.Clock.Now(),
	}
}

// poke asks the worker to sync soon; pokes coalesce.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) kill() { w.killOnce.Do(func() { close(w.killed) }) }

func (w *worker) isKilled() bool {
	select {
	case <-w.killed:
		return true
	default:
		return false
	}
}

// run is the worker's loop: sync, then sleep until an event, a due time or
// a kill. When ctx ends (the daemon stops) the pod is left running.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	if w.after != nil {
		select {
		case <-w.after:
		case <-ctx.Done():
			return
		}
	}
	w.started = w.m.o.Clock.Now()
	// Listed at once as Pending (ContainerCreating), as the kubelet shows a
	// pod it admitted, not only once its containers run; an adopted pod's
	// first report comes from the sync right after.
	if obs, err := w.list(ctx); err == nil && len(obs.sandboxes) == 0 && !w.isKilled() {
		w.report(obs, false)
	}
	for {
		if w.isKilled() {
			w.terminate(ctx)
			return
		}
		next := w.sync(ctx)
		var timer <-chan time.Time
		if !next.IsZero() {
			d := next.Sub(w.m.o.Clock.Now())
			if d < 0 {
				d = 0
			}
			timer = w.m.o.Clock.After(d)
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

// list returns what the runtime has of this pod.
func (w *worker) list(ctx context.Context) (observed, error) {
	at := w.m.o.Clock.Now()
	cs, err := w.m.o.Runtime.ListContainers(ctx, map[string]string{runtime.LabelPodUID: string(w.pod.UID)})
	if err != nil {
		return observed{}, err
	}
	w.m.retrack(w, cs)
	o := observe(cs)
	o.at = at
	return o, nil
}

// event records an event about the pod (or one of its containers).
func (w *worker) event(container, eventType, reason, message string) {
	field := ""
	if container != "" {
		field = "spec.containers{" + container + "}"
		for _, c := range w.pod.Spec.InitContainers {
			if c.Name == container {
				field = "spec.initContainers{" + container + "}"
			}
		}
	}
	w.rec.Event(status.PodRef(w.pod, field), eventType, reason, message)
}

// report computes and stores the pod's status.
func (w *worker) report(obs observed, sandboxOK bool) {
	started := w.startTime(obs)
	st := computeStatus(statusInput{
		pod:       w.pod,
		obs:       obs,
		waiting:   w.waiting,
		prev:      w.lastStatus,
		now:       w.m.o.Clock.Now(),
		hostIP:    w.m.o.HostIP,
		podIP:     podIPOf(obs),
		started:   started,
		sandboxOK: sandboxOK,
		probes:    w.m.prober,
		hooking:   w.hooking,
		failed:    w.failed,
	})
	w.lastStatus = &st
	if !w.startObserved && allRunning(st) {
		w.startObserved = true
		w.m.o.Metrics.podStart.Observe(w.m.o.Clock.Since(w.seen).Seconds())
	}
	p := w.pod.DeepCopy()
	p.Status = st
	// A static pod is created when the node first runs it; after a daemon
	// restart that is its first sandbox's creation.
	p.CreationTimestamp = metav1.NewTime(started)
	if w.deletedAt != nil {
		p.DeletionTimestamp = w.deletedAt
		grace := int64(w.gracePeriod() / time.Second)
		p.DeletionGracePeriodSeconds = &grace
	}
	w.m.o.Store.SetPod(p)
}

// allRunning reports a pod whose every app container runs.
func allRunning(st v1.PodStatus) bool {
	if len(st.ContainerStatuses) == 0 {
		return false
	}
	for _, cs := range st.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// podIPOf is the pod IP the newest sandbox's network got (a label, so it
// survives daemon restarts); "" without a pod network.
func podIPOf(o observed) string {
	if sb := o.sandbox(); sb != nil {
		return sb.Labels[sandbox.LabelPodIP]
	}
	return ""
}

func firstSandbox(o observed) *runtime.Container {
	if len(o.sandboxes) == 0 {
		return nil
	}
	return &o.sandboxes[0]
}
