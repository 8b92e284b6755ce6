package pod

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/sys/user"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/runtime/runtimetest"
	"github.com/minikubelet/minikubelet/internal/sandbox"
	"github.com/minikubelet/minikubelet/internal/status"
)

// fakeSandboxes runs sandboxes as plain containers of the fake runtime:
// no namespaces, no mounts, no root.
type fakeSandboxes struct {
	rt       *runtimetest.Fake
	mu       sync.Mutex
	cleaned  []string
	failRuns int
}

func (f *fakeSandboxes) PodDir(uid string) string          { return "/state/pods/" + uid }
func (f *fakeSandboxes) NetNSPath(id string) string        { return "/state/netns/" + id }
func (f *fakeSandboxes) PodPaths(uid string) sandbox.Paths { return sandbox.Paths{Dir: f.PodDir(uid)} }
func (f *fakeSandboxes) Prepare(p *v1.Pod, _ string) (sandbox.Paths, error) {
	return f.PodPaths(string(p.UID)), nil
}

func (f *fakeSandboxes) Run(ctx context.Context, p *v1.Pod, id string, attempt int) error {
	f.mu.Lock()
	if f.failRuns > 0 {
		f.failRuns--
		f.mu.Unlock()
		return fmt.Errorf("injected sandbox failure")
	}
	f.mu.Unlock()
	labels := sandbox.PodLabels(p)
	labels[runtime.LabelKind] = runtime.KindSandbox
	labels[runtime.LabelAttempt] = strconv.Itoa(attempt)
	img, err := f.rt.GetImage(ctx, "pause")
	if err != nil {
		return err
	}
	if err := f.rt.CreateContainer(ctx, runtime.CreateRequest{ID: id, Image: img, Labels: labels}); err != nil {
		return err
	}
	return f.rt.StartContainer(ctx, id)
}

func (f *fakeSandboxes) Stop(ctx context.Context, id string) error {
	return f.rt.StopContainer(ctx, id, 15, time.Second)
}
func (f *fakeSandboxes) Remove(ctx context.Context, id string) error {
	return f.rt.RemoveContainer(ctx, id)
}
func (f *fakeSandboxes) Cleanup(uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleaned = append(f.cleaned, uid)
	return nil
}

type harness struct {
	t      *testing.T
	rt     *runtimetest.Fake
	sb     *fakeSandboxes
	store  *status.Store
	clock  *clocktesting.FakeClock
	m      *Manager
	cancel context.CancelFunc
	done   chan struct{}
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness with the manager's Sandboxes made from
// the fake ones by wrap (nil: the fake ones).
func newHarnessWith(t *testing.T, wrap func(*fakeSandboxes) Sandboxes) *harness {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := runtimetest.New("pause", "busybox:1")
	rt.Now = clk.Now
	sb := &fakeSandboxes{rt: rt}
	var sandboxes Sandboxes = sb
	if wrap != nil {
		sandboxes = wrap(sb)
	}
	store := status.NewStore(clk, 100)
	m := NewManager(Options{
		Runtime: rt, Sandboxes: sandboxes, Store: store, Clock: clk,
		Logger: zaptest.NewLogger(t), NodeName: "node1", HostIP: "10.0.0.1",
	})
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, rt: rt, sb: sb, store: store, clock: clk, m: m, cancel: cancel, done: make(chan struct{})}
	go func() { m.Run(ctx); close(h.done) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

func testPod(name, uid string, policy v1.RestartPolicy, containers ...string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid)}}
	p.Spec.RestartPolicy = policy
	grace := int64(30)
	p.Spec.TerminationGracePeriodSeconds = &grace
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: c, Image: "busybox:1", Command: []string{"sleep", "1d"}, ImagePullPolicy: v1.PullIfNotPresent})
	}
	return p
}

// waitFor polls cond (the workers run on their own goroutines) for a
// bounded real time.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; calls: %v", what, h.rt.Calls())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) pod(uid string) *v1.Pod {
	p, _ := h.store.Pod(types.UID(uid))
	return p
}

func (h *harness) phase(uid string) v1.PodPhase {
	if p := h.pod(uid); p != nil {
		return p.Status.Phase
	}
	return ""
}

// container returns the newest attempt of a container of the fake runtime.
func (h *harness) container(uid, name string) runtime.Container {
	cs, _ := h.rt.ListContainers(context.Background(), map[string]string{runtime.LabelPodUID: uid, runtime.LabelContainerName: name})
	var best runtime.Container
	for _, c := range cs {
		if best.ID == "" || c.Attempt() > best.Attempt() {
			best = c
		}
	}
	return best
}

func TestPodStartsAndReportsReady(t *testing.T) {
	h := newHarness(t)
	h.m.Sync(context.Background(), []*v1.Pod{testPod("web", "u1", v1.RestartPolicyAlways, "a", "b")})
	h.waitFor("Running", func() bool {
		p := h.pod("u1")
		return p != nil && p.Status.Phase == v1.PodRunning && len(p.Status.ContainerStatuses) == 2 && p.Status.ContainerStatuses[1].Ready
	})
	p := h.pod("u1")
	for _, c := range p.Status.Conditions {
		if c.Status != v1.ConditionTrue {
			t.Errorf("condition %s is %s", c.Type, c.Status)
		}
	}
	if p.Status.HostIP != "10.0.0.1" || p.Status.StartTime == nil || p.Status.QOSClass != v1.PodQOSBestEffort {
		t.Errorf("status: %+v", p.Status)
	}
	if n := h.rt.CountCalls("CreateContainer"); n != 3 {
		t.Errorf("%d containers created, want sandbox + 2", n)
	}
	cs := p.Status.ContainerStatuses[0]
	if cs.State.Running == nil || cs.RestartCount != 0 || !strings.HasPrefix(cs.ContainerID, "containerd://") {
		t.Errorf("container status: %+v", cs)
	}
	evs := h.store.Events("default", "web")
	var reasons []string
	for _, e := range evs {
		reasons = append(reasons, e.Reason)
	}
	if got := strings.Join(reasons, ","); got != "Pulled,Created,Started,Pulled,Created,Started" {
		t.Errorf("events %s", got)
	}
}

func TestRestartBackOff(t *testing.T) {
	h := newHarness(t)
	h.m.Sync(context.Background(), []*v1.Pod{testPod("crash", "u2", v1.RestartPolicyAlways, "c")})
	h.waitFor("running", func() bool { return h.container("u2", "c").State == runtime.StateRunning })

	// First exit: restart at once.
	h.rt.Exit(h.container("u2", "c").ID, 1, false)
	h.waitFor("attempt 1", func() bool { c := h.container("u2", "c"); return c.Attempt() == 1 && c.State == runtime.StateRunning })

	// Second exit: CrashLoopBackOff for 10 s.
	h.rt.Exit(h.container("u2", "c").ID, 2, false)
	h.waitFor("back-off", func() bool {
		p := h.pod("u2")
		return p != nil && p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs := h.pod("u2").Status.ContainerStatuses[0]
	if !strings.Contains(cs.State.Waiting.Message, "back-off 10s restarting failed container=c pod=crash_default(u2)") {
		t.Errorf("message %q", cs.State.Waiting.Message)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 || cs.LastTerminationState.Terminated.Reason != "Error" {
		t.Errorf("lastState %+v", cs.LastTerminationState)
	}
	if h.phase("u2") != v1.PodRunning {
		t.Errorf("phase %s, want Running while restarting", h.phase("u2"))
	}
	if c := h.container("u2", "c"); c.Attempt() != 1 {
		t.Fatalf("restarted before the back-off: attempt %d", c.Attempt())
	}
	h.clock.Step(10 * time.Second)
	h.waitFor("attempt 2", func() bool { c := h.container("u2", "c"); return c.Attempt() == 2 && c.State == runtime.StateRunning })
	h.waitFor("restartCount 2", func() bool { return h.pod("u2").Status.ContainerStatuses[0].RestartCount == 2 })
	// Only the current and the previous attempt are kept.
	cs2, _ := h.rt.ListContainers(context.Background(), map[string]string{runtime.LabelContainerName: "c"})
	if len(cs2) != 2 {
		t.Errorf("%d attempts kept, want 2", len(cs2))
	}
}

func TestTerminalPhases(t *testing.T) {
	tests := []struct {
		policy v1.RestartPolicy
		code   int32
		oom    bool
		phase  v1.PodPhase
		reason string
	}{
		{v1.RestartPolicyNever, 0, false, v1.PodSucceeded, "Completed"},
		{v1.RestartPolicyNever, 1, false, v1.PodFailed, "Error"},
		{v1.RestartPolicyOnFailure, 0, false, v1.PodSucceeded, "Completed"},
		{v1.RestartPolicyNever, 137, true, v1.PodFailed, "OOMKilled"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%d-%v", tt.policy, tt.code, tt.oom), func(t *testing.T) {
			h := newHarness(t)
			h.m.Sync(context.Background(), []*v1.Pod{testPod("job", "u3", tt.policy, "c")})
			h.waitFor("running", func() bool { return h.container("u3", "c").State == runtime.StateRunning })
			h.rt.Exit(h.container("u3", "c").ID, tt.code, tt.oom)
			h.waitFor("phase "+string(tt.phase), func() bool { return h.phase("u3") == tt.phase })
			term := h.pod("u3").Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.Reason != tt.reason || term.ExitCode != tt.code {
				t.Fatalf("terminated %+v", term)
			}
			for _, c := range h.pod("u3").Status.Conditions {
				if c.Type == v1.PodReady && (c.Status != v1.ConditionFalse || c.Reason != "PodCompleted") {
					t.Errorf("Ready condition %+v", c)
				}
			}
			if n := h.rt.CountCalls("CreateContainer"); n != 2 {
				t.Errorf("%d creates: a terminal pod must not restart", n)
			}
		})
	}
}

func TestRemovedPodTerminatesAndCleansUp(t *testing.T) {
	h := newHarness(t)
	h.m.Sync(context.Background(), []*v1.Pod{testPod("web", "u4", v1.RestartPolicyAlways, "a", "b")})
	h.waitFor("running", func() bool { return h.phase("u4") == v1.PodRunning })
	h.m.Sync(context.Background(), nil)
	h.waitFor("gone", func() bool { return h.pod("u4") == nil })
	if cs, _ := h.rt.ListContainers(context.Background(), nil); len(cs) != 0 {
		t.Errorf("left behind: %+v", cs)
	}
	if n := h.rt.CountCalls("StopContainer"); n < 3 {
		t.Errorf("%d stops, want both containers and the sandbox", n)
	}
	if len(h.sb.cleaned) != 1 || h.sb.cleaned[0] != "u4" {
		t.Errorf("cleanup %v", h.sb.cleaned)
	}
}

func TestReplacementWaitsForOldPod(t *testing.T) {
	h := newHarness(t)
	h.m.Sync(context.Background(), []*v1.Pod{testPod("web", "old", v1.RestartPolicyAlways, "a")})
	h.waitFor("old running", func() bool { return h.phase("old") == v1.PodRunning })
	oldID := h.container("old", "a").ID
	h.m.Sync(context.Background(), []*v1.Pod{testPod("web", "new", v1.RestartPolicyAlways, "a")})
	h.waitFor("new running", func() bool { return h.phase("new") == v1.PodRunning })
	if h.pod("old") != nil {
		t.Fatal("old pod still known")
	}
	// Every call about the old container comes before the new sandbox.
	calls := h.rt.Calls()
	removed, created := -1, -1
	for i, c := range calls {
		if c == "RemoveContainer "+oldID {
			removed = i
		}
		if strings.HasPrefix(c, "CreateContainer") && created < 0 && removed >= 0 {
			created = i
		}
	}
	if removed < 0 || created < removed {
		t.Errorf("new pod started before the old one was gone: %v", calls)
	}
}

func TestImageNeverPull(t *testing.T) {
	h := newHarness(t)
	p := testPod("np", "u5", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Image = "missing:1"
	p.Spec.Containers[0].ImagePullPolicy = v1.PullNever
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("ErrImageNeverPull", func() bool {
		p := h.pod("u5")
		return p != nil && p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
	})
	if h.phase("u5") != v1.PodPending {
		t.Errorf("phase %s", h.phase("u5"))
	}
}

func TestSandboxFailureIsRetried(t *testing.T) {
	h := newHarness(t)
	h.sb.failRuns = 1
	h.m.Sync(context.Background(), []*v1.Pod{testPod("sb", "u6", v1.RestartPolicyAlways, "c")})
	h.waitFor("FailedCreatePodSandBox event", func() bool {
		for _, e := range h.store.Events("default", "sb") {
			if e.Reason == "FailedCreatePodSandBox" && e.Type == v1.EventTypeWarning {
				return true
			}
		}
		return false
	})
	h.waitFor("pending", func() bool { return h.phase("u6") == v1.PodPending })
	h.clock.Step(time.Minute)
	h.waitFor("running after retry", func() bool { return h.phase("u6") == v1.PodRunning })
}

func TestInitContainersRunInOrder(t *testing.T) {
	h := newHarness(t)
	p := testPod("init", "u7", v1.RestartPolicyAlways, "app")
	p.Spec.InitContainers = []v1.Container{
		{Name: "one", Image: "busybox:1", Command: []string{"true"}, ImagePullPolicy: v1.PullIfNotPresent},
		{Name: "two", Image: "busybox:1", Command: []string{"true"}, ImagePullPolicy: v1.PullIfNotPresent},
	}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("init one running", func() bool { return h.container("u7", "one").State == runtime.StateRunning })
	if h.container("u7", "two").ID != "" || h.container("u7", "app").ID != "" {
		t.Fatal("started before the first init container finished")
	}
	// A failed init container is retried under Always; the app waits.
	h.rt.Exit(h.container("u7", "one").ID, 1, false)
	h.waitFor("init one retried", func() bool { c := h.container("u7", "one"); return c.Attempt() == 1 && c.State == runtime.StateRunning })
	h.rt.Exit(h.container("u7", "one").ID, 0, false)
	h.waitFor("init two running", func() bool { return h.container("u7", "two").State == runtime.StateRunning })
	h.rt.Exit(h.container("u7", "two").ID, 0, false)
	h.waitFor("app running", func() bool { return h.phase("u7") == v1.PodRunning })
	st := h.pod("u7").Status
	if st.InitContainerStatuses[0].RestartCount != 1 || st.InitContainerStatuses[1].State.Terminated == nil {
		t.Errorf("init statuses %+v", st.InitContainerStatuses)
	}
}

func TestImagePullBackOff(t *testing.T) {
	h := newHarness(t)
	h.rt.InjectError("PullImage", fmt.Errorf("registry unreachable"))
	p := testPod("pull", "u10", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Image = "missing:1"
	h.m.Sync(context.Background(), []*v1.Pod{p})
	reason := func() string {
		p := h.pod("u10")
		if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return ""
		}
		return p.Status.ContainerStatuses[0].State.Waiting.Reason
	}
	h.waitFor("ErrImagePull", func() bool {
		r := reason()
		if r != "ErrImagePull" {
			t.Logf("reason %q", r)
		}
		return r == "ErrImagePull"
	})
	h.clock.Step(2 * time.Second)
	h.waitFor("ImagePullBackOff", func() bool { return reason() == "ImagePullBackOff" })
	if !h.hasEvent("BackOff", `Back-off pulling image "missing:1"`) {
		t.Error("no BackOff event")
	}
	pulls := h.rt.CountCalls("PullImage")
	h.clock.Step(5 * time.Second)
	time.Sleep(20 * time.Millisecond)
	if h.rt.CountCalls("PullImage") != pulls {
		t.Fatal("pulled again before the 10 s back-off")
	}
	h.rt.InjectError("PullImage", nil)
	h.rt.AddImage("missing:1")
	h.clock.Step(5 * time.Second)
	h.waitFor("running after the back-off", func() bool { return h.phase("u10") == v1.PodRunning })
}

// TestImageUsers: the image's users reach the spec (a named USER runs as
// its uid), and a failure to read them is a CreateContainerError that is
// retried.
func TestImageUsers(t *testing.T) {
	h := newHarness(t)
	h.rt.InjectError("ImageUsers", fmt.Errorf("mount failed"))
	h.rt.SetImageUsers("busybox:1", &runtime.ImageUsers{Users: []user.User{{Name: "app", Uid: 1000, Gid: 1000}}})
	p := testPod("users", "u12", v1.RestartPolicyAlways, "c")
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("CreateContainerError", func() bool {
		p := h.pod("u12")
		if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w.Reason == "CreateContainerError" && strings.Contains(w.Message, "mount failed")
	})
	h.rt.InjectError("ImageUsers", nil)
	h.clock.Step(time.Minute)
	h.waitFor("running", func() bool { return h.phase("u12") == v1.PodRunning })
	req, ok := h.rt.Request(h.container("u12", "c").ID)
	if !ok || req.Spec.Process.User.UID != 0 {
		t.Fatalf("image without USER: spec user %+v", req.Spec.Process.User)
	}

	img := "named:1"
	h.rt.AddImage(img)
	h.rt.SetImageUsers(img, &runtime.ImageUsers{Users: []user.User{{Name: "app", Uid: 1000, Gid: 1000}}})
	h.rt.SetImageConfig(img, runtime.ImageConfig{User: "app"})
	p = testPod("named", "u13", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].Image = img
	h.m.Sync(context.Background(), []*v1.Pod{h.pod("u12"), p})
	h.waitFor("named running", func() bool { return h.phase("u13") == v1.PodRunning })
	req, _ = h.rt.Request(h.container("u13", "c").ID)
	if u := req.Spec.Process.User; u.UID != 1000 || u.GID != 1000 {
		t.Errorf("USER app: spec user %+v, want 1000:1000", u)
	}
}

func TestPodStartLatencyObservedOnce(t *testing.T) {
	h := newHarness(t)
	h.m.Sync(context.Background(), []*v1.Pod{testPod("lat", "u11", v1.RestartPolicyAlways, "c")})
	h.waitFor("running", func() bool { return h.phase("u11") == v1.PodRunning })
	h.rt.Exit(h.container("u11", "c").ID, 1, false)
	h.waitFor("restarted", func() bool { c := h.container("u11", "c"); return c.Attempt() == 1 && c.State == runtime.StateRunning })
	h.waitFor("reported", func() bool { return h.pod("u11").Status.ContainerStatuses[0].RestartCount == 1 })
	ch := make(chan prometheus.Metric, 1)
	h.m.o.Metrics.podStart.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n != 1 {
		t.Fatalf("pod start observed %d times, want once", n)
	}
}

func TestMissingClusterDNSEvent(t *testing.T) {
	h := newHarness(t)
	p := testPod("dns", "u12", v1.RestartPolicyAlways, "c")
	p.Spec.DNSPolicy = v1.DNSClusterFirst
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.phase("u12") == v1.PodRunning })
	if !h.hasEvent("MissingClusterDNS", `Falling back to "Default" policy`) {
		t.Error("no MissingClusterDNS event for a ClusterFirst pod")
	}
}

// TestOrphanCleanupRetried: when the runtime cannot list containers at the
// first Sync, the pods whose manifests went away are still terminated, at
// a later resync, and the wanted pods are left alone (review #18: the
// cleanup used to be given up for the daemon's lifetime).
func TestOrphanCleanupRetried(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.sb.Run(ctx, testPod("gone", "u-gone", v1.RestartPolicyAlways), "sb-gone", 0); err != nil {
		t.Fatal(err)
	}
	h.rt.InjectError("ListContainers", fmt.Errorf("injected: containerd restarting"))
	h.m.Sync(ctx, []*v1.Pod{testPod("keep", "u-keep", v1.RestartPolicyAlways, "c")})
	if _, ok := h.rt.Container("sb-gone"); !ok || h.rt.CountCalls("StopContainer sb-gone") != 0 {
		t.Fatalf("orphan touched although its pods could not be listed; calls %v", h.rt.Calls())
	}
	h.rt.InjectError("ListContainers", nil)
	h.waitFor("the wanted pod's container", func() bool { return h.container("u-keep", "c").State == runtime.StateRunning })
	keep := h.container("u-keep", "c").ID

	h.clock.Step(30 * time.Second) // the resync
	h.waitFor("the orphan removed", func() bool { _, ok := h.rt.Container("sb-gone"); return !ok })
	if c := h.container("u-keep", "c"); c.ID != keep || c.State != runtime.StateRunning {
		t.Errorf("wanted pod's container after the orphan cleanup: %+v, want %s still running", c, keep)
	}
}

// TestCrashLoopKeepsEventRoutesBounded: the event routes of a
// crash-looping pod are those of the attempts it still has, not one per
// attempt it ever had (review #17).
func TestCrashLoopKeepsEventRoutesBounded(t *testing.T) {
	h := newHarness(t)
	h.m.Sync(context.Background(), []*v1.Pod{testPod("crash", "u-loop", v1.RestartPolicyAlways, "c")})
	for attempt := 1; attempt <= 6; attempt++ {
		h.waitFor(fmt.Sprintf("attempt %d running", attempt-1), func() bool {
			c := h.container("u-loop", "c")
			return c.Attempt() == attempt-1 && c.State == runtime.StateRunning
		})
		h.rt.Exit(h.container("u-loop", "c").ID, 1, false)
		h.waitFor(fmt.Sprintf("attempt %d", attempt), func() bool {
			h.clock.Step(5 * time.Minute) // past any back-off
			return h.container("u-loop", "c").Attempt() == attempt
		})
	}
	h.waitFor("the last attempt running", func() bool { return h.container("u-loop", "c").State == runtime.StateRunning })
	routes := func() (int, int) {
		cs, _ := h.rt.ListContainers(context.Background(), map[string]string{runtime.LabelPodUID: "u-loop"})
		h.m.mu.Lock()
		defer h.m.mu.Unlock()
		return len(h.m.ids), len(cs)
	}
	// The routes follow the containers at the worker's next list (the
	// resync's, at the latest).
	h.waitFor("one event route per container", func() bool {
		h.clock.Step(30 * time.Second)
		n, want := routes()
		return n == want
	})
}
