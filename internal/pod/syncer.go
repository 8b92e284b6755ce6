package pod

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/lifecycle"
	"github.com/minikubelet/minikubelet/internal/prober"
	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
	"github.com/minikubelet/minikubelet/internal/status"
)

// syncDeps are what a syncer works with, handed in by the Manager: the
// same for every pod.
type syncDeps struct {
	rt        runtime.Runtime
	sandboxes Sandboxes
	prober    *prober.Manager
	clock     clock.WithTicker
	metrics   *Metrics
	store     *status.Store
	// pulls is a semaphore for image pulls, shared by every pod.
	pulls chan struct{}

	hostIP               string
	kubeVersion          string
	loggerExe            string
	logMaxSize           int64
	logMaxFiles          int
	backOff              lifecycle.BackOff
	allowedUnsafeSysctls []string
}

// routes is what a syncer tells the Manager, which routes runtime events
// and probe dials: the pod's containers, and its running sandbox.
type routes interface {
	// track routes the events of container id to this pod.
	track(id string)
	// retrack routes the events of exactly these containers to this pod.
	retrack(cs []runtime.Container)
	// setSandbox records the pod's running sandbox ("" for none).
	setSandbox(id string)
	// dialer dials inside the pod's running sandbox's network namespace.
	dialer() prober.Dialer
}

// syncer does a pod's work: one sync pass toward its spec, its
// termination. Only its worker's goroutine calls it, so its fields need no
// lock (evicting aside); it sees of the worker only its signals.
type syncer struct {
	syncDeps
	signals
	pod    *v1.Pod
	log    *zap.Logger
	routes routes

	// In-memory facts that need no persistence: why a container waits,
	// back-off steps and the next time something is due.
	waiting map[string]waiting
	steps   map[backOffKey]int
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
	// probed are the attempts the prober watches.
	probed map[string]bool
	// postStartRunning is the attempt whose postStart hook runs.
	postStartRunning string
	// failed ends the pod as a whole (admission, deadline or eviction).
	failed *podFailure
	// evicting is an eviction the storage check decided, for the syncer
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

// backOffKey names one back-off of a container: its restarts, or the
// setup of an attempt (pull, config, create) that keeps failing.
type backOffKey struct {
	container string
	setup     bool
}

func restartKey(name string) backOffKey { return backOffKey{container: name} }
func setupKey(name string) backOffKey   { return backOffKey{container: name, setup: true} }

func newSyncer(d syncDeps, p *v1.Pod, log *zap.Logger, r routes, sig signals) *syncer {
	return &syncer{
		syncDeps: d,
		signals:  sig,
		pod:      p,
		log:      log,
		routes:   r,
		waiting:  map[string]waiting{},
		steps:    map[backOffKey]int{},
		due:      map[string]time.Time{},
		probed:   map[string]bool{},
		seen:     d.clock.Now(),
	}
}

// begin starts the pod's life on the node once its predecessor is gone.
func (s *syncer) begin(ctx context.Context) {
	s.started = s.clock.Now()
	// Listed at once as Pending (ContainerCreating), as the kubelet shows a
	// pod it admitted, not only once its containers run; an adopted pod's
	// first report comes from the sync right after.
	if obs, err := s.list(ctx); err == nil && len(obs.sandboxes) == 0 && !s.isKilled() {
		s.report(obs, false)
	}
}

// list returns what the runtime has of this pod.
func (s *syncer) list(ctx context.Context) (observed, error) {
	at := s.clock.Now()
	cs, err := s.rt.ListContainers(ctx, map[string]string{runtime.LabelPodUID: string(s.pod.UID)})
	if err != nil {
		return observed{}, err
	}
	s.routes.retrack(cs)
	o := observe(cs)
	o.at = at
	return o, nil
}

// event records an event about the pod (or one of its containers).
func (s *syncer) event(container, eventType, reason, message string) {
	s.store.Event(eventRef(s.pod, container), eventType, reason, message)
}

// eventRef is the object an event about the pod, or one of its containers
// (by name), is about.
func eventRef(p *v1.Pod, container string) v1.ObjectReference {
	field := ""
	if container != "" {
		field = "spec.containers{" + container + "}"
		if _, isInit := containerByName(p, container); isInit {
			field = "spec.initContainers{" + container + "}"
		}
	}
	return status.PodRef(p, field)
}

// report computes and stores the pod's status.
func (s *syncer) report(obs observed, sandboxOK bool) {
	started := s.startTime(obs)
	st := computeStatus(statusInput{
		pod:              s.pod,
		obs:              obs,
		waiting:          s.waiting,
		prev:             s.lastStatus,
		now:              s.clock.Now(),
		hostIP:           s.hostIP,
		podIP:            podIPOf(obs),
		started:          started,
		sandboxOK:        sandboxOK,
		probes:           s.prober,
		postStartRunning: s.postStartRunning,
		failed:           s.failed,
	})
	s.lastStatus = &st
	if !s.startObserved && allRunning(st) {
		s.startObserved = true
		s.metrics.podStart.Observe(s.clock.Since(s.seen).Seconds())
	}
	p := s.pod.DeepCopy()
	p.Status = st
	// A static pod is created when the node first runs it; after a daemon
	// restart that is its first sandbox's creation.
	p.CreationTimestamp = metav1.NewTime(started)
	if s.deletedAt != nil {
		p.DeletionTimestamp = s.deletedAt
		grace := int64(s.gracePeriod() / time.Second)
		p.DeletionGracePeriodSeconds = &grace
	}
	s.store.SetPod(p)
}

// startTime is when the pod became active on the node: its first
// sandbox's creation, or when the worker got it.
func (s *syncer) startTime(obs observed) time.Time {
	started := s.started
	if sb := obs.oldestSandbox(); sb != nil && sb.CreatedAt.Before(started) {
		started = sb.CreatedAt
	}
	return started
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
	if sb := o.newestSandbox(); sb != nil {
		return sb.Labels[sandbox.LabelPodIP]
	}
	return ""
}

// containerByName finds a container of the pod by name, init containers
// (sidecars among them) first; isInit says which list it is in. Names are
// unique across both lists (validation checks it).
func containerByName(p *v1.Pod, name string) (c *v1.Container, isInit bool) {
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == name {
			return &p.Spec.InitContainers[i], true
		}
	}
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i], false
		}
	}
	return nil, false
}
