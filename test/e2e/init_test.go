package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// initContainerStatus returns the named init container's status or fails
// the test.
func initContainerStatus(t *testing.T, p *v1.Pod, name string) v1.ContainerStatus {
	t.Helper()
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	t.Fatalf("pod %s/%s has no init container status for %q: %s", p.Namespace, p.Name, name, initSummary(p))
	return v1.ContainerStatus{}
}

// initSummary is summary with the init containers' states in front.
func initSummary(p *v1.Pod) string {
	var b strings.Builder
	b.WriteString("init:")
	for _, cs := range p.Status.InitContainerStatuses {
		fmt.Fprintf(&b, " [%s ready=%v restarts=%d", cs.Name, cs.Ready, cs.RestartCount)
		switch {
		case cs.State.Running != nil:
			b.WriteString(" running")
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s", cs.State.Waiting.Reason)
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s exit=%d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
		b.WriteString("]")
	}
	return b.String() + " " + summary(p)
}

// TestInitContainersRunInOrder: two init containers run one after the
// other to completion before the app container starts; meanwhile `get
// pods` shows Init:0/2 then Init:1/2, the app waits with reason
// PodInitializing and the pod is not Initialized.
func TestInitContainersRunInOrder(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: inits
  namespace: init
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: first
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "2"]
  - name: second
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "2"]
  containers:
  - name: app
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`)
	var seen []string // STATUS cells, consecutive duplicates dropped
	var problems []string
	problem := func(s string) {
		if !slices.Contains(problems, s) {
			problems = append(problems, s)
		}
	}
	pod := d.waitPod("init", "inits", 60*time.Second, func(p *v1.Pod) (bool, string) {
		row, out := podRow(t, d, "init", "inits")
		if len(row) < 3 {
			return false, "get pods:\n" + out
		}
		if len(seen) == 0 || seen[len(seen)-1] != row[2] {
			seen = append(seen, row[2])
		}
		initsDone := len(p.Status.InitContainerStatuses) == 2
		for _, cs := range p.Status.InitContainerStatuses {
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
				initsDone = false
			}
		}
		if !initsDone {
			if conditionStatus(p, v1.PodInitialized) == v1.ConditionTrue {
				problem("Initialized True before the init containers completed: " + initSummary(p))
			}
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w == nil || w.Reason != "PodInitializing" {
					problem("app container not waiting with reason PodInitializing while init containers run: " + initSummary(p))
				}
			}
		}
		ok, _ := runningAndReady(p)
		return ok, fmt.Sprintf("STATUS seen %q; %s", seen, initSummary(p))
	})
	for _, p := range problems {
		t.Error(p)
	}

	t.Logf("STATUS column seen: %q", seen)
	// Before the init containers report, kubectl shows the phase
	// (Pending); after they completed, the app container's waiting reason.
	allowed := []string{"Pending", "Init:0/2", "Init:1/2", "PodInitializing", "ContainerCreating", "Running"}
	i0, i1, run := slices.Index(seen, "Init:0/2"), slices.Index(seen, "Init:1/2"), slices.Index(seen, "Running")
	if i0 < 0 || i1 < i0 || run < i1 || run != len(seen)-1 {
		t.Errorf("STATUS column went %q, want Init:0/2, then Init:1/2, then Running", seen)
	}
	for _, s := range seen {
		if !slices.Contains(allowed, s) {
			t.Errorf("unexpected STATUS %q (sequence %q)", s, seen)
		}
	}

	if got := conditionStatus(pod, v1.PodInitialized); got != v1.ConditionTrue {
		t.Errorf("Initialized condition %q, want True (%+v)", got, pod.Status.Conditions)
	}
	first, second := initContainerStatus(t, pod, "first"), initContainerStatus(t, pod, "second")
	app := containerStatus(t, pod, "app")
	for _, cs := range []v1.ContainerStatus{first, second} {
		if term := cs.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" || cs.RestartCount != 0 {
			t.Fatalf("init container %s: want terminated exit 0 reason Completed, no restart: %s", cs.Name, initSummary(pod))
		}
	}
	// Times have one-second resolution: "not before" is what can be told.
	if f, s := first.State.Terminated.FinishedAt, second.State.Terminated.StartedAt; s.Before(&f) {
		t.Errorf("init container second started %s, before first finished %s", s, f)
	}
	if f, s := second.State.Terminated.FinishedAt, app.State.Running.StartedAt; s.Before(&f) {
		t.Errorf("app started %s, before the last init container finished %s", s, f)
	}
	if d := second.State.Terminated.StartedAt.Sub(first.State.Terminated.StartedAt.Time); d < time.Second {
		t.Errorf("init container second started %s after first, which sleeps 2 s: they overlapped", d)
	}
	d.checkRow(t, "init", "inits", "1/1", "Running")
}

// TestFailingInitContainerFailsPod: under Never, a failed init container
// fails the pod and the app container is never created.
func TestFailingInitContainerFailsPod(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: badinit
  namespace: init
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: setup
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "sleep 1; exit 1"]
  containers:
  - name: app
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`)
	d.waitPhase("init", "badinit", v1.PodFailed, 60*time.Second)
	// A moment later: nothing may start after the failure.
	time.Sleep(2 * time.Second)
	pod, err := d.getPod("init", "badinit")
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != v1.PodFailed {
		t.Errorf("phase %s, want Failed (terminal)", pod.Status.Phase)
	}
	setup := initContainerStatus(t, pod, "setup")
	if term := setup.State.Terminated; term == nil || term.ExitCode != 1 || term.Reason != "Error" || setup.RestartCount != 0 {
		t.Errorf("init container setup: want terminated exit 1 reason Error, no restart: %s", initSummary(pod))
	}
	app := containerStatus(t, pod, "app")
	if w := app.State.Waiting; w == nil || w.Reason != "PodInitializing" || app.ContainerID != "" {
		t.Errorf("app container: want waiting PodInitializing and no containerID: %+v", app)
	}
	if got := conditionStatus(pod, v1.PodInitialized); got != v1.ConditionFalse {
		t.Errorf("Initialized condition %q, want False", got)
	}
	if list := d.containerAttempts(string(pod.UID), "app"); len(list) != 0 {
		t.Errorf("containerd has %d containers for app, want none: the app must never start", len(list))
	}
	d.checkRow(t, "init", "badinit", "0/1", "Init:Error")
}

// TestSidecarRunsBesideApp: an init container with restartPolicy Always
// is a sidecar: it starts before the app, keeps running beside it, counts
// in READY, and is restarted even when the pod's policy is Never.
func TestSidecarRunsBesideApp(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	const sidecarPod = `apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: sidecar
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: helper
    image: localhost/minikubelet/busybox:e2e
    restartPolicy: Always
    command: ["sh", "-c", %q]
  containers:
  - name: app
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`
	d.writeManifest("pod.yaml", fmt.Sprintf(sidecarPod, "withsidecar", v1.RestartPolicyAlways, "exec sleep 3600"))
	d.writeManifest("never.yaml", fmt.Sprintf(sidecarPod, "neversidecar", v1.RestartPolicyNever, "sleep 2; exit 1"))

	bothRun := func(p *v1.Pod) (bool, string) {
		if len(p.Status.InitContainerStatuses) != 1 || len(p.Status.ContainerStatuses) != 1 {
			return false, initSummary(p)
		}
		h, a := p.Status.InitContainerStatuses[0], p.Status.ContainerStatuses[0]
		return p.Status.Phase == v1.PodRunning && h.State.Running != nil && h.Ready && a.State.Running != nil && a.Ready, initSummary(p)
	}
	pod := d.waitPod("sidecar", "withsidecar", 60*time.Second, bothRun)
	h, a := initContainerStatus(t, pod, "helper"), containerStatus(t, pod, "app")
	// The kubelet starts the app containers at its next sync after the
	// sidecar started (a PLEG event, about a second later), not at some
	// periodic resync.
	if gap := a.State.Running.StartedAt.Sub(h.State.Running.StartedAt.Time); gap < 0 || gap > 5*time.Second {
		t.Errorf("app started %s after the sidecar, want within 0..5s (sidecar started %s, app %s)",
			gap, h.State.Running.StartedAt.UTC().Format(time.RFC3339), a.State.Running.StartedAt.UTC().Format(time.RFC3339))
	}
	if got := conditionStatus(pod, v1.PodInitialized); got != v1.ConditionTrue {
		t.Errorf("Initialized condition %q, want True once the sidecar started", got)
	}
	if started := h.Started; started == nil || !*started {
		t.Errorf("sidecar started = %v, want true", h.Started)
	}
	d.checkRow(t, "sidecar", "withsidecar", "2/2", "Running")
	// Both keep running.
	time.Sleep(3 * time.Second)
	pod = d.waitPod("sidecar", "withsidecar", time.Second, bothRun)
	if h, a := initContainerStatus(t, pod, "helper"), containerStatus(t, pod, "app"); h.RestartCount != 0 || a.RestartCount != 0 {
		t.Errorf("restarts while both should just run: %s", initSummary(pod))
	}

	// Under Never the sidecar that exits is restarted all the same, and
	// the app runs on.
	pod = d.waitPod("sidecar", "neversidecar", 45*time.Second, func(p *v1.Pod) (bool, string) {
		if len(p.Status.InitContainerStatuses) != 1 || len(p.Status.ContainerStatuses) != 1 {
			return false, initSummary(p)
		}
		h, a := p.Status.InitContainerStatuses[0], p.Status.ContainerStatuses[0]
		return h.RestartCount >= 1 && a.State.Running != nil, initSummary(p)
	})
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("phase %s with the app running, want Running: %s", pod.Status.Phase, initSummary(pod))
	}
	if a := containerStatus(t, pod, "app"); a.RestartCount != 0 {
		t.Errorf("app restarted (%d) though only the sidecar exited", a.RestartCount)
	}
	if term := initContainerStatus(t, pod, "helper").LastTerminationState.Terminated; term == nil || term.ExitCode != 1 {
		t.Errorf("sidecar lastState.terminated %+v, want exit 1", term)
	}
}
