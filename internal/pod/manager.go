// Package pod runs pods: one worker goroutine per pod drives the runtime
// toward the pod's spec (sandbox, init containers, containers, restarts)
// and reports its status; the Manager starts and stops workers as the
// desired set of pods changes and routes runtime events to them. The pod
// worker is the only place that holds all the pieces.
package pod

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/lifecycle"
	"github.com/minikubelet/minikubelet/internal/prober"
	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
	"github.com/minikubelet/minikubelet/internal/status"
)

// Options configure a Manager.
type Options struct {
	Runtime   runtime.Runtime
	Sandboxes Sandboxes
	Store     *status.Store
	Clock     clock.WithTicker
	Logger    *zap.Logger
	NodeName  string
	HostIP    string
	// LoggerExe is the absolute path of the minikubelet binary the shim runs
	// as each container's log writer.
	LoggerExe string
	// LogMaxSize and LogMaxFiles bound each container's log.
	LogMaxSize  int64
	LogMaxFiles int
	BackOff     lifecycle.BackOff
	// Resync is how often every worker re-checks the runtime even without
	// events, as a safety net (default 30 s).
	Resync time.Duration
	// NetNSDialer dials from inside a pinned network namespace, for probes
	// of pods without a pod IP (default sandbox.DialInNetNS).
	NetNSDialer func(netnsPath string) prober.Dialer
	// KubeVersion is sent in the User-Agent of probes (kube-probe/<version>)
	// and httpGet hooks (kube-lifecycle/<version>).
	KubeVersion string
	// Metrics receives the workers' measurements (default: unregistered).
	Metrics *Metrics
	// AllowedUnsafeSysctls are sysctls (or prefixes ending in "*") pods may
	// set besides the safe ones.
	AllowedUnsafeSysctls []string
	// ParallelPulls bounds image pulls at once (default 1: one at a time,
	// so pulls do not fight over a slow link; other work goes on).
	ParallelPulls int
	// EvictionPeriod is how often pods' local storage is measured against
	// their emptyDir sizeLimits and ephemeral-storage limits (default
	// DefaultEvictionPeriod).
	EvictionPeriod time.Duration
}

// Sandboxes is what workers need of pod sandboxes; *sandbox.Manager
// implements it (tests use a fake without mounts or root).
type Sandboxes interface {
	PodDir(uid string) string
	PodPaths(uid string) sandbox.Paths
	NetNSPath(sandboxID string) string
	Prepare(pod *v1.Pod, podIP string) (sandbox.Paths, error)
	Run(ctx context.Context, pod *v1.Pod, id string, attempt int) error
	Stop(ctx context.Context, id string) error
	Remove(ctx context.Context, id string) error
	Cleanup(uid string) error
}

var _ Sandboxes = (*sandbox.Manager)(nil)

// Manager owns the pod workers.
type Manager struct {
	o   Options
	log *zap.Logger

	mu sync.Mutex
	// live holds the workers of desired pods; dying those being killed.
	live  map[types.UID]*podWorker
	dying map[*podWorker]struct{}
	// last is the newest worker per namespace/name, so a replacement waits
	// for its predecessor to be gone: never two pods of one name at once.
	last map[string]*podWorker
	// ids routes runtime events to the worker owning a container.
	ids map[string]*podWorker
	// sandboxes is each pod's running sandbox, for probe dialers.
	sandboxes map[types.UID]string

	prober *prober.Manager
	// pulls is a semaphore for image pulls.
	pulls chan struct{}
	// deps are what every pod's syncer is handed.
	deps syncDeps

	// ctx is what workers run under; it ends when Run's context does.
	ctx    context.Context
	cancel context.CancelFunc
	// synced is set by the first Sync; reaped once the orphans of the
	// pods that Sync did not want were looked for.
	synced, reaped bool
	wg             sync.WaitGroup
}

// NewManager returns a Manager; call Run, then Sync.
func NewManager(o Options) *Manager {
	if o.Resync == 0 {
		o.Resync = 30 * time.Second
	}
	if o.BackOff == (lifecycle.BackOff{}) {
		o.BackOff = lifecycle.DefaultBackOff()
	}
	if o.EvictionPeriod <= 0 {
		o.EvictionPeriod = DefaultEvictionPeriod
	}
	if o.ParallelPulls < 1 {
		o.ParallelPulls = 1
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.NetNSDialer == nil {
		o.NetNSDialer = func(path string) prober.Dialer { return sandbox.DialInNetNS(path) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		ctx:       ctx,
		cancel:    cancel,
		o:         o,
		log:       o.Logger.Named("pod"),
		live:      map[types.UID]*podWorker{},
		dying:     map[*podWorker]struct{}{},
		last:      map[string]*podWorker{},
		ids:       map[string]*podWorker{},
		sandboxes: map[types.UID]string{},
		pulls:     make(chan struct{}, o.ParallelPulls),
	}
	m.prober = prober.NewManager(prober.Options{
		Execer:      o.Runtime,
		Dial:        m.probeDialer,
		Clock:       o.Clock,
		Logger:      o.Logger.Named("prober"),
		KubeVersion: o.KubeVersion,
		Report:      m.reportProbe,
		Observe: func(k prober.Kind, r prober.Result, took time.Duration) {
			o.Metrics.probes.WithLabelValues(k.String(), r.String()).Observe(took.Seconds())
		},
	})
	m.deps = syncDeps{
		rt: o.Runtime, sandboxes: o.Sandboxes, prober: m.prober, clock: o.Clock,
		metrics: o.Metrics, store: o.Store, pulls: m.pulls,
		hostIP: o.HostIP, kubeVersion: o.KubeVersion,
		loggerExe: o.LoggerExe, logMaxSize: o.LogMaxSize, logMaxFiles: o.LogMaxFiles,
		backOff: o.BackOff, allowedUnsafeSysctls: o.AllowedUnsafeSysctls,
	}
	return m
}

// probeDialer dials inside the pod's current sandbox network namespace.
func (m *Manager) probeDialer(uid types.UID) prober.Dialer {
	m.mu.Lock()
	id := m.sandboxes[uid]
	m.mu.Unlock()
	return m.o.NetNSDialer(m.o.Sandboxes.NetNSPath(id))
}

// setSandbox records the pod's running sandbox.
func (m *Manager) setSandbox(uid types.UID, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == "" {
		delete(m.sandboxes, uid)
		return
	}
	m.sandboxes[uid] = id
}

// workerByUID returns the worker of a pod, live or dying.
func (m *Manager) workerByUID(uid types.UID) *podWorker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.workerByUIDLocked(uid)
}

func (m *Manager) workerByUIDLocked(uid types.UID) *podWorker {
	if w := m.live[uid]; w != nil {
		return w
	}
	for w := range m.dying {
		if w.pod.UID == uid {
			return w
		}
	}
	return nil
}

// reportProbe turns every failed probe attempt into an Unhealthy event (and
// a successful one with a warning into ProbeWarning), worded as the
// kubelet's. It runs on probe workers and must not block.
func (m *Manager) reportProbe(u prober.Update) {
	w := m.workerByUID(u.PodUID)
	if w == nil || u.Message == "" {
		return
	}
	switch u.Result {
	case prober.Failure:
		m.o.Metrics.probeFailures.WithLabelValues(u.Kind.String()).Inc()
		w.s.event(u.Container, v1.EventTypeWarning, "Unhealthy", u.Message)
	case prober.Success:
		w.s.event(u.Container, v1.EventTypeWarning, "ProbeWarning", u.Message)
	}
}

func key(ns, name string) string { return ns + "/" + name }

// Sync makes the desired set of pods the given one: workers of pods no
// longer wanted are killed, new pods get workers. The first Sync also
// kills pods the runtime still runs from manifests that are gone; if the
// runtime cannot list them then, the resync retries (see reapOrphans).
func (m *Manager) Sync(ctx context.Context, pods []*v1.Pod) {
	desired := map[types.UID]*v1.Pod{}
	for _, p := range pods {
		desired[p.UID] = p
	}
	// Listed before taking the lock: a slow runtime must not hold up the
	// workers, which take it to route their events.
	m.mu.Lock()
	reap := !m.reaped
	m.mu.Unlock()
	var running []runtime.Container
	var listErr error
	if reap {
		running, listErr = m.listForOrphans(ctx)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.synced = true
	for uid, w := range m.live {
		if _, ok := desired[uid]; !ok {
			delete(m.live, uid)
			m.dying[w] = struct{}{}
			w.kill()
		}
	}
	if reap && !m.reaped {
		// Before any new worker, so that a pod whose manifest changed
		// while the daemon was down starts only after its old self is gone.
		if listErr != nil {
			m.log.Error("list containers for orphan cleanup; retrying at the next resync", zap.Error(listErr))
		} else {
			m.killOrphansLocked(running, desired)
		}
	}
	for uid, p := range desired {
		if _, ok := m.live[uid]; ok {
			continue
		}
		m.startWorkerLocked(p.DeepCopy())
	}
}

// orphanListTimeout bounds the runtime call of the orphan cleanup.
const orphanListTimeout = 10 * time.Second

// listForOrphans lists every container of the namespace, bounded in time.
func (m *Manager) listForOrphans(ctx context.Context) ([]runtime.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, orphanListTimeout)
	defer cancel()
	return m.o.Runtime.ListContainers(ctx, nil)
}

// reapOrphans retries the orphan cleanup that the first Sync could not
// do, once a Sync has said which pods are wanted: the pods with a worker.
func (m *Manager) reapOrphans(ctx context.Context) {
	m.mu.Lock()
	due := m.synced && !m.reaped
	m.mu.Unlock()
	if !due {
		return
	}
	running, err := m.listForOrphans(ctx)
	if err != nil {
		m.log.Error("list containers for orphan cleanup; retrying at the next resync", zap.Error(err))
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.reaped {
		m.killOrphansLocked(running, nil)
	}
}

// startWorkerLocked starts a worker for pod, after its predecessor of the
// same name is gone.
func (m *Manager) startWorkerLocked(p *v1.Pod) *podWorker {
	k := key(p.Namespace, p.Name)
	var after <-chan struct{}
	if prev := m.last[k]; prev != nil {
		after = prev.done
	}
	w := m.newWorker(p, after)
	m.live[p.UID] = w
	m.last[k] = w
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		w.run(m.ctx)
		m.finished(w)
	}()
	return w
}

// killOrphansLocked starts dying workers for the pods of running that
// nobody wants any more (their manifest went away while the daemon was
// down): neither in desired nor with a worker of their own.
func (m *Manager) killOrphansLocked(running []runtime.Container, desired map[types.UID]*v1.Pod) {
	m.reaped = true
	seen := map[string]bool{}
	for _, c := range running {
		uid := c.Labels[runtime.LabelPodUID]
		if uid == "" || seen[uid] {
			continue
		}
		seen[uid] = true
		if _, ok := desired[types.UID(uid)]; ok || m.workerByUIDLocked(types.UID(uid)) != nil {
			continue
		}
		p := orphanPod(c)
		m.log.Info("terminating pod whose manifest is gone", zap.String("pod", key(p.Namespace, p.Name)), zap.String("uid", uid))
		w := m.startWorkerLocked(p)
		delete(m.live, p.UID)
		m.dying[w] = struct{}{}
		w.kill()
	}
}

// orphanPod rebuilds enough of a pod from its labels to terminate it.
func orphanPod(c runtime.Container) *v1.Pod {
	p := &v1.Pod{}
	p.Namespace = c.Labels[runtime.LabelPodNamespace]
	p.Name = c.Labels[runtime.LabelPodName]
	p.UID = types.UID(c.Labels[runtime.LabelPodUID])
	if g, err := strconv.ParseInt(c.Labels[runtime.LabelPodGracePeriod], 10, 64); err == nil {
		p.Spec.TerminationGracePeriodSeconds = &g
	}
	return p
}

func (m *Manager) finished(w *podWorker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.dying, w)
	if m.live[w.pod.UID] == w {
		delete(m.live, w.pod.UID)
	}
	if m.live[w.pod.UID] == nil {
		delete(m.sandboxes, w.pod.UID)
	}
	k := key(w.pod.Namespace, w.pod.Name)
	if m.last[k] == w {
		delete(m.last, k)
	}
	for id := range w.tracked {
		if m.ids[id] == w {
			delete(m.ids, id)
		}
	}
}

// newWorker returns the worker of p, its syncer handed the Manager's
// dependencies and routes back to the Manager for this pod.
func (m *Manager) newWorker(p *v1.Pod, after <-chan struct{}) *podWorker {
	log := m.log.With(zap.String("pod", key(p.Namespace, p.Name)), zap.String("uid", string(p.UID)))
	w := newPodWorker(p, log, m.o.Clock, after)
	w.s = newSyncer(m.deps, p, log, podRoutes{m: m, w: w}, w.signals())
	return w
}

// podRoutes are the Manager's routes for one worker's pod.
type podRoutes struct {
	m *Manager
	w *podWorker
}

func (r podRoutes) track(id string)                { r.m.track(id, r.w) }
func (r podRoutes) retrack(cs []runtime.Container) { r.m.retrack(r.w, cs) }
func (r podRoutes) setSandbox(id string)           { r.m.setSandbox(r.w.pod.UID, id) }
func (r podRoutes) dialer() prober.Dialer          { return r.m.probeDialer(r.w.pod.UID) }

// track routes events of container id to w.
func (m *Manager) track(id string, w *podWorker) {
	m.mu.Lock()
	m.ids[id] = w
	w.tracked[id] = struct{}{}
	m.mu.Unlock()
}

// retrack routes events of exactly the pod's containers, as just listed,
// to w: the attempts removed since the last list are forgotten, so the
// map does not grow for as long as a crash-looping pod lives (review #17).
func (m *Manager) retrack(w *podWorker, cs []runtime.Container) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := make(map[string]struct{}, len(cs))
	for _, c := range cs {
		now[c.ID] = struct{}{}
		m.ids[c.ID] = w
	}
	for id := range w.tracked {
		if _, ok := now[id]; !ok && m.ids[id] == w {
			delete(m.ids, id)
		}
	}
	w.tracked = now
}

// Run follows runtime events until ctx ends, then waits for the workers to
// return. Pods keep running: stopping the daemon does not stop them.
func (m *Manager) Run(ctx context.Context) {
	defer m.cancel()
	defer m.prober.Stop()
	go func() { <-ctx.Done(); m.cancel() }()
	go m.routeProbeResults(ctx)
	go m.evictLoop(m.ctx)
	resync := m.o.Clock.NewTicker(m.o.Resync)
	defer resync.Stop()
	for ctx.Err() == nil {
		events, errs := m.o.Runtime.Subscribe(ctx)
		// Anything that happened while not subscribed is found by a sync.
		m.pokeAll()
	stream:
		for {
			select {
			case <-ctx.Done():
				break stream
			case e, ok := <-events:
				if !ok {
					break stream
				}
				m.handle(ctx, e)
			case err := <-errs:
				m.log.Warn("runtime event stream broke; resubscribing", zap.Error(err))
				break stream
			case <-resync.C():
				m.reapOrphans(ctx)
				m.pokeAll()
			}
		}
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-m.o.Clock.After(time.Second):
			}
		}
	}
	m.cancel()
	m.wg.Wait()
}

// routeProbeResults wakes the worker of a pod whose probe result changed:
// readiness changes its status, liveness and startup failures kill.
func (m *Manager) routeProbeResults(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-m.prober.Updates():
			if !ok {
				return
			}
			if w := m.workerByUID(u.PodUID); w != nil {
				w.poke()
			}
		}
	}
}

func (m *Manager) handle(ctx context.Context, e runtime.Event) {
	m.mu.Lock()
	w := m.ids[e.ContainerID]
	m.mu.Unlock()
	if e.Kind == runtime.EventOOM {
		// Kept on the container so the reason survives a daemon restart.
		if err := m.o.Runtime.SetLabels(ctx, e.ContainerID, map[string]string{runtime.LabelOOMKilled: "true"}); err != nil {
			m.log.Warn("record OOM kill", zap.String("container", e.ContainerID), zap.Error(err))
		}
	}
	if w != nil {
		w.poke()
	}
}

func (m *Manager) pokeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.live {
		w.poke()
	}
	for w := range m.dying {
		w.poke()
	}
}

// worker returns the worker of a pod by namespace/name: the live one,
// else one being killed.
func (m *Manager) worker(namespace, name string) *podWorker {
	m.mu.Lock()
	defer m.mu.Unlock()
	var dying *podWorker
	for _, w := range m.live {
		if w.pod.Namespace == namespace && w.pod.Name == name {
			return w
		}
	}
	for w := range m.dying {
		if w.pod.Namespace == namespace && w.pod.Name == name {
			dying = w
		}
	}
	return dying
}

// newID returns a container ID like the ones the CRI uses.
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Errors ContainerLog wraps: an unknown pod, container or attempt; and a
// container that has not started yet.
var (
	ErrNotFound = errors.New("not found")
	ErrWaiting  = errors.New("waiting to start")
)

// ContainerLog returns the log file of a container's current attempt (or
// the one before, with previous) and a func reporting whether that attempt
// has exited, for log followers.
func (m *Manager) ContainerLog(ctx context.Context, namespace, podName, container string, previous bool) (string, func() bool, error) {
	w := m.worker(namespace, podName)
	if w == nil {
		return "", nil, fmt.Errorf("pod %q in namespace %q: %w", podName, namespace, ErrNotFound)
	}
	if c, _ := containerByName(w.pod, container); c == nil {
		return "", nil, fmt.Errorf("container %q in pod %q: %w", container, podName, ErrNotFound)
	}
	cs, err := m.o.Runtime.ListContainers(ctx, map[string]string{
		runtime.LabelPodUID:        string(w.pod.UID),
		runtime.LabelContainerName: container,
	})
	if err != nil {
		return "", nil, err
	}
	obs := observe(cs)
	c := obs.latest(container)
	if previous {
		c = obs.previous(container)
		if c == nil {
			return "", nil, fmt.Errorf("previous terminated container %q in pod %q: %w", container, podName, ErrNotFound)
		}
	}
	if c == nil {
		return "", nil, fmt.Errorf("container %q in pod %q is %w", container, podName, ErrWaiting)
	}
	// Asked by a log follower every poll: a look-up, not a pod copy.
	uid, cid := w.pod.UID, "containerd://"+c.ID
	exited := func() bool { return !m.o.Store.ContainerRunning(uid, cid) }
	return c.Labels[runtime.LabelLogPath], exited, nil
}

// Pods returns the specs of every pod the manager has a worker for (live
// or being killed), including those not reported yet: what image garbage
// collection must not touch.
func (m *Manager) Pods() []*v1.Pod {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*v1.Pod, 0, len(m.live)+len(m.dying))
	for _, w := range m.live {
		out = append(out, w.pod.DeepCopy())
	}
	for w := range m.dying {
		out = append(out, w.pod.DeepCopy())
	}
	return out
}
