package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// The restart-policy tests: what the kubelet does when a container exits,
// under each pod restartPolicy, as GET /pods and `get pods` show it. Each
// test runs its own daemon and runs in parallel with the others of its
// kind; the containers sleep briefly so the tests stay short.

// exitPod is a one-container pod under policy whose container runs script
// with sh -c.
func exitPod(name string, policy v1.RestartPolicy, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: lifecycle
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %q]
`, name, policy, script)
}

// checkRow checks the READY and STATUS cells of the pod's `get pods` row.
func (d *daemon) checkRow(t *testing.T, ns, name, ready, status string) {
	t.Helper()
	row, out := podRow(t, d, ns, name)
	if len(row) < 5 || row[1] != ready || row[2] != status {
		t.Errorf("get pods -n %s: row %q, want READY %s STATUS %s; output:\n%s", ns, row, ready, status, out)
	}
}

// waitRowStatus waits until the pod's STATUS cell reads want.
func (d *daemon) waitRowStatus(ns, name, want string, timeout time.Duration) []string {
	d.t.Helper()
	var row []string
	d.waitFor(timeout, fmt.Sprintf("STATUS %s of pod %s/%s", want, ns, name), func() (bool, string) {
		out, errOut, code := d.cli("get", "pods", "-n", ns)
		if code != 0 {
			return false, "get pods: " + errOut
		}
		row = tableRows(d.t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE")[name]
		return len(row) >= 3 && row[2] == want, "get pods:\n" + out
	})
	return row
}

// waitPhase waits until the pod reaches phase.
func (d *daemon) waitPhase(ns, name string, phase v1.PodPhase, timeout time.Duration) *v1.Pod {
	d.t.Helper()
	return d.waitPod(ns, name, timeout, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == phase, summary(p)
	})
}

// startedAt is when the attempt a container state describes started; nil
// for a waiting state.
func startedAt(s v1.ContainerState) *metav1.Time {
	switch {
	case s.Running != nil:
		return &s.Running.StartedAt
	case s.Terminated != nil:
		return &s.Terminated.StartedAt
	}
	return nil
}

// containerAttempts returns the containerd containers of one container of
// a pod (every attempt the daemon kept).
func (d *daemon) containerAttempts(uid, container string) []containerObj {
	d.t.Helper()
	list, err := d.env.containerd.containers(d.ns, map[string]string{
		runtime.LabelPodUID:        uid,
		runtime.LabelContainerName: container,
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return list
}

func TestRestartNeverExitZeroSucceeds(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", exitPod("done", v1.RestartPolicyNever, "sleep 1; exit 0"))
	pod := d.waitPhase("lifecycle", "done", v1.PodSucceeded, 60*time.Second)
	cs := containerStatus(t, pod, "main")
	if term := cs.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("state %+v, want terminated exit 0 reason Completed (%s)", cs.State, summary(pod))
	}
	if cs.RestartCount != 0 || cs.Ready {
		t.Errorf("restartCount %d ready %v, want 0 and false", cs.RestartCount, cs.Ready)
	}
	if got := conditionStatus(pod, v1.PodReady); got != v1.ConditionFalse {
		t.Errorf("Ready condition %q, want False (%+v)", got, pod.Status.Conditions)
	}
	d.checkRow(t, "lifecycle", "done", "0/1", "Completed")
}

func TestRestartNeverExitThreeFails(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", exitPod("fails", v1.RestartPolicyNever, "sleep 1; exit 3"))
	pod := d.waitPhase("lifecycle", "fails", v1.PodFailed, 60*time.Second)
	cs := containerStatus(t, pod, "main")
	if term := cs.State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("state %+v, want terminated exit 3 reason Error (%s)", cs.State, summary(pod))
	}
	if cs.RestartCount != 0 {
		t.Errorf("restartCount %d, want 0", cs.RestartCount)
	}
	d.checkRow(t, "lifecycle", "fails", "0/1", "Error")
}

func TestRestartOnFailureExitZeroSucceeds(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", exitPod("once", v1.RestartPolicyOnFailure, "sleep 1; exit 0"))
	pod := d.waitPhase("lifecycle", "once", v1.PodSucceeded, 60*time.Second)
	// Look again a little later: a restart would be immediate.
	time.Sleep(2 * time.Second)
	pod = d.waitPhase("lifecycle", "once", v1.PodSucceeded, time.Second)
	cs := containerStatus(t, pod, "main")
	if term := cs.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("state %+v, want terminated exit 0 reason Completed (%s)", cs.State, summary(pod))
	}
	if cs.RestartCount != 0 || cs.LastTerminationState.Terminated != nil {
		t.Errorf("restartCount %d lastState %+v, want no restart", cs.RestartCount, cs.LastTerminationState)
	}
	if n := len(d.containerAttempts(string(pod.UID), "main")); n != 1 {
		t.Errorf("%d containerd containers for main, want 1 (no second attempt)", n)
	}
	d.checkRow(t, "lifecycle", "once", "0/1", "Completed")
}

// TestRestartOnFailureCrashLoopBackOff follows a container that always
// fails through its first three restarts: the first is immediate, then
// the back-off is 10 s and 20 s, with CrashLoopBackOff shown in between
// and the pod Running all along. The gaps are read as a user would, from
// lastState.terminated.finishedAt of the previous attempt and startedAt of
// the next one, which have one-second resolution.
func TestRestartOnFailureCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", exitPod("crashloop", v1.RestartPolicyOnFailure, "sleep 1; exit 1"))

	type window struct{ min, max time.Duration }
	// gaps[n] is the wait before restart n (1-based).
	want := map[int32]window{1: {0, 3 * time.Second}, 2: {8 * time.Second, 14 * time.Second}, 3: {18 * time.Second, 26 * time.Second}}
	gaps := map[int32]time.Duration{}
	// backOffMsgs[n] holds a waiting message seen with restartCount n.
	backOffMsgs := map[int32]string{}
	var statusSeen []string
	var uid string
	started, phaseReported := false, false
	d.waitFor(75*time.Second, "three restarts of crashloop", func() (bool, string) {
		p, err := d.getPod("lifecycle", "crashloop")
		if err != nil {
			return false, err.Error()
		}
		uid = string(p.UID)
		if len(p.Status.ContainerStatuses) != 1 {
			return false, summary(p)
		}
		cs := p.Status.ContainerStatuses[0]
		if cs.State.Running != nil || cs.RestartCount > 0 {
			started = true
		}
		if started && p.Status.Phase != v1.PodRunning && !phaseReported {
			phaseReported = true
			t.Errorf("phase %s after the first start, want Running (OnFailure restarts follow): %s", p.Status.Phase, summary(p))
		}
		n := cs.RestartCount
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			backOffMsgs[n] = w.Message
			if len(statusSeen) == 0 || statusSeen[len(statusSeen)-1] != "CrashLoopBackOff" {
				// The STATUS column while backing off.
				row, _ := podRow(t, d, "lifecycle", "crashloop")
				if len(row) >= 3 {
					statusSeen = append(statusSeen, row[2])
				}
			}
		}
		if start, prev := startedAt(cs.State), cs.LastTerminationState.Terminated; n >= 1 && start != nil && prev != nil {
			if _, ok := gaps[n]; !ok {
				gaps[n] = start.Sub(prev.FinishedAt.Time)
				t.Logf("restart %d: previous attempt finished %s, this one started %s: gap %s",
					n, prev.FinishedAt.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339), gaps[n])
			}
		}
		return gaps[3] != 0 || n > 3, fmt.Sprintf("gaps so far %v; %s", gaps, summary(p))
	})

	for n := int32(1); n <= 3; n++ {
		g, ok := gaps[n]
		w := want[n]
		switch {
		case !ok:
			t.Errorf("restart %d: never saw a snapshot with its startedAt and the previous finishedAt", n)
		case g < w.min || g > w.max:
			t.Errorf("restart %d came %s after the previous exit, want %s..%s", n, g, w.min, w.max)
		}
	}
	for n, delay := range map[int32]string{1: "10s", 2: "20s"} {
		msg, ok := backOffMsgs[n]
		wantMsg := fmt.Sprintf("back-off %s restarting failed container=main pod=crashloop_lifecycle(%s)", delay, uid)
		switch {
		case !ok:
			t.Errorf("with restartCount %d: never saw waiting reason CrashLoopBackOff", n)
		case msg != wantMsg:
			t.Errorf("with restartCount %d: waiting message %q, want %q", n, msg, wantMsg)
		}
	}
	if _, ok := backOffMsgs[0]; ok {
		t.Errorf("CrashLoopBackOff before the first restart, which the kubelet makes at once (message %q)", backOffMsgs[0])
	}
	if len(statusSeen) == 0 || statusSeen[0] != "CrashLoopBackOff" {
		t.Errorf("get pods STATUS while backing off: %q, want CrashLoopBackOff", statusSeen)
	}
	found := false
	for _, ev := range podEvents(t, d, "lifecycle", "crashloop") {
		if ev.Reason == "BackOff" && ev.Type == v1.EventTypeWarning && strings.Contains(ev.Message, "Back-off restarting failed container main") {
			found = true
		}
	}
	if !found {
		t.Errorf("no Warning BackOff event \"Back-off restarting failed container main in pod ...\"")
	}
}

func TestRestartAlwaysRestartsCompletedContainer(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", exitPod("again", v1.RestartPolicyAlways, "sleep 1; exit 0"))
	// The second restart comes after a 10 s back-off.
	pod := d.waitPod("lifecycle", "again", 45*time.Second, func(p *v1.Pod) (bool, string) {
		if len(p.Status.ContainerStatuses) != 1 {
			return false, summary(p)
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.RestartCount >= 2 && cs.LastTerminationState.Terminated != nil, summary(p)
	})
	cs := containerStatus(t, pod, "main")
	if term := cs.LastTerminationState.Terminated; term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("lastState.terminated exit %d reason %q, want 0 Completed", term.ExitCode, term.Reason)
	}
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("phase %s, want Running (Always restarts whatever the exit)", pod.Status.Phase)
	}
}

// TestOneOfTwoContainersFails: under Never, a failed container stays
// failed while the other one runs on: the pod is Running, READY 1/2, and
// the STATUS column shows the failed container's reason.
func TestOneOfTwoContainersFails(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: half
  namespace: lifecycle
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: fails
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "sleep 1; exit 1"]
  - name: runs
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`)
	pod := d.waitPod("lifecycle", "half", 60*time.Second, func(p *v1.Pod) (bool, string) {
		if len(p.Status.ContainerStatuses) != 2 {
			return false, summary(p)
		}
		f, r := containerStatus(t, p, "fails"), containerStatus(t, p, "runs")
		return f.State.Terminated != nil && r.State.Running != nil, summary(p)
	})
	// A moment later, to see that nothing is restarted.
	time.Sleep(2 * time.Second)
	pod, err := d.getPod("lifecycle", "half")
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("phase %s, want Running (one container still runs): %s", pod.Status.Phase, summary(pod))
	}
	f := containerStatus(t, pod, "fails")
	if term := f.State.Terminated; term == nil || term.ExitCode != 1 || term.Reason != "Error" || f.RestartCount != 0 {
		t.Errorf("container fails: %s, want terminated exit 1 reason Error, no restart", summary(pod))
	}
	if r := containerStatus(t, pod, "runs"); r.State.Running == nil || !r.Ready {
		t.Errorf("container runs: %s, want running and ready", summary(pod))
	}
	if got := conditionStatus(pod, v1.PodReady); got != v1.ConditionFalse {
		t.Errorf("Ready condition %q, want False", got)
	}
	d.checkRow(t, "lifecycle", "half", "1/2", "Error")
}
