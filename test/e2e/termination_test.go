package e2e

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
	"github.com/minikubelet/minikubelet/internal/runtime"
)

// The termination tests (SPEC section 4): grace periods, the Terminating
// status, and a replaced pod never overlapping with its successor.

const (
	// exitsOnTerm stops as soon as it gets SIGTERM (after the current
	// one-second sleep at most).
	exitsOnTerm = `trap "exit 0" TERM; while true; do sleep 1; done`
	// ignoresTerm only goes with SIGKILL.
	ignoresTerm = `trap "" TERM; while true; do sleep 1; done`
)

// termPod is a one-container pod running script with the given grace
// period; version lands in an env var, so an edit changes the spec.
func termPod(name string, grace int, script, version string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: term
spec:
  terminationGracePeriodSeconds: %d
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    env:
    - name: VERSION
      value: %q
    command: ["sh", "-c", %q]
`, name, grace, version, script)
}

// TestTerminationSIGTERMExitsAtOnce: a container that exits on SIGTERM
// goes at once, although its grace period is 20 s.
func TestTerminationSIGTERMExitsAtOnce(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", termPod("polite", 20, exitsOnTerm, "1"))
	pod := d.waitRunning("term", "polite")

	start := time.Now()
	d.removeManifest("pod.yaml")
	d.waitGone("term", "polite", 30*time.Second)
	took := time.Since(start)
	t.Logf("pod gone %s after the manifest was removed", took.Round(100*time.Millisecond))
	if took > 8*time.Second {
		t.Errorf("a container that exits on SIGTERM took %s to go, want well under its 20 s grace period (< 8 s)", took.Round(100*time.Millisecond))
	}
	if n := len(d.podContainers(string(pod.UID))); n != 0 {
		t.Errorf("%d containerd containers left of the pod", n)
	}
}

// TestTerminationGracePeriodIgnoredSIGTERM: a container that ignores
// SIGTERM is killed once its 4 s grace period is over (not after the
// default 30 s); meanwhile `get pods` shows Terminating and GET /pods
// carries deletionTimestamp and deletionGracePeriodSeconds.
func TestTerminationGracePeriodIgnoredSIGTERM(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", termPod("stubborn", 4, ignoresTerm, "1"))
	pod := d.waitRunning("term", "stubborn")
	mainID := containerID(t, containerStatus(t, pod, "main"))

	start := time.Now()
	d.removeManifest("pod.yaml")
	var (
		sawTerminating bool
		sawDeletion    *v1.Pod // the first GET /pods snapshot with deletionTimestamp
		rows           []string
		killing        *v1.Event
		gone           bool
	)
	deadline := start.Add(20 * time.Second)
	for time.Now().Before(deadline) {
		list, err := d.listPods()
		if err != nil {
			t.Fatalf("GET /pods: %v", err)
		}
		var cur *v1.Pod
		for i := range list.Items {
			if p := &list.Items[i]; p.Namespace == "term" && p.Name == "stubborn" {
				cur = p
			}
		}
		if cur == nil {
			gone = true
			break
		}
		if cur.DeletionTimestamp != nil && sawDeletion == nil {
			sawDeletion = cur.DeepCopy()
		}
		if !sawTerminating {
			out, _, code := d.cli("get", "pods", "-n", "term")
			if code == 0 {
				if row := tableRows(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE")["stubborn"]; len(row) >= 3 {
					rows = append(rows, strings.Join(row, " "))
					sawTerminating = row[2] == "Terminating"
				}
			}
		}
		if killing == nil && cur.DeletionTimestamp != nil {
			killing = findEvent(podEvents(t, d, "term", "stubborn"), v1.EventTypeNormal, "Killing", "Stopping container main")
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	if !gone {
		t.Fatalf("pod still in GET /pods %s after the manifest was removed, with a 4 s grace period", took.Round(100*time.Millisecond))
	}
	t.Logf("pod gone %s after the manifest was removed; get pods rows seen: %q", took.Round(100*time.Millisecond), rows)
	if took < 3500*time.Millisecond || took > 12*time.Second {
		t.Errorf("a container ignoring SIGTERM with a 4 s grace period went after %s, want about 4 s (3.5 s .. 12 s)", took.Round(100*time.Millisecond))
	}
	if !sawTerminating {
		t.Errorf("get pods never showed STATUS Terminating while the pod terminated; rows seen: %q", rows)
	}
	switch {
	case sawDeletion == nil:
		t.Errorf("GET /pods never showed metadata.deletionTimestamp while the pod terminated")
	default:
		if g := sawDeletion.DeletionGracePeriodSeconds; g == nil || *g != 4 {
			t.Errorf("metadata.deletionGracePeriodSeconds = %v, want 4", g)
		}
		if dt := sawDeletion.DeletionTimestamp.Time; dt.Before(start.Add(-2*time.Second)) || dt.After(start.Add(10*time.Second)) {
			t.Errorf("metadata.deletionTimestamp %s, want about when the manifest was removed (%s)", dt.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
		}
	}
	if killing == nil {
		t.Errorf("no Normal Killing event \"Stopping container main\" while the pod terminated; events:%s", eventList(podEvents(t, d, "term", "stubborn")))
	}
	d.waitFor(10*time.Second, "the pod's containers to be gone from containerd", func() (bool, string) {
		objs := d.podContainers(string(pod.UID))
		return len(objs) == 0, fmt.Sprintf("%d left (main was %s)", len(objs), mainID)
	})
}

// taskSample is what runs in a containerd namespace at one moment: the
// running tasks' containers, by pod UID.
type taskSample struct {
	at time.Time
	// running holds "<pod uid>/<kind>/<container name>" of every running
	// task whose container carries the daemon's labels.
	running []string
}

// taskSampler lists the running tasks of a daemon's namespace every
// 200 ms until stopped.
type taskSampler struct {
	d    *daemon
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []taskSample
	errs    []error
}

func startTaskSampler(d *daemon) *taskSampler {
	s := &taskSampler{d: d, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *taskSampler) loop() {
	defer close(s.done)
	for {
		sample, err := s.sample()
		s.mu.Lock()
		if err != nil {
			s.errs = append(s.errs, err)
		} else {
			s.samples = append(s.samples, sample)
		}
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sample lists running tasks first, then containers, so that every task
// seen has its container in the listing.
func (s *taskSampler) sample() (taskSample, error) {
	c := s.d.env.containerd
	ctx, cancel := nsContext(s.d.ns, 5*time.Second)
	defer cancel()
	at := time.Now()
	resp, err := c.client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		return taskSample{}, fmt.Errorf("list tasks: %w", err)
	}
	objs, err := c.containers(s.d.ns, nil)
	if err != nil {
		return taskSample{}, err
	}
	labels := map[string]map[string]string{}
	for _, o := range objs {
		labels[o.ID] = o.Labels
	}
	out := taskSample{at: at}
	for _, p := range resp.Tasks {
		if p.Status != tasktypes.Status_RUNNING {
			continue
		}
		l, ok := labels[p.ID]
		if !ok || l[runtime.LabelPodUID] == "" {
			continue
		}
		out.running = append(out.running, l[runtime.LabelPodUID]+"/"+l[runtime.LabelKind]+"/"+l[runtime.LabelContainerName])
	}
	sort.Strings(out.running)
	return out, nil
}

// finish stops the sampler and returns what it saw.
func (s *taskSampler) finish(t *testing.T) []taskSample {
	t.Helper()
	close(s.stop)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("task sampler did not stop")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.errs {
		t.Logf("task sampler: %v", err)
	}
	return s.samples
}

// uidsOf returns the distinct pod UIDs of a sample.
func (ts taskSample) uidsOf() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range ts.running {
		uid, _, _ := strings.Cut(r, "/")
		if !seen[uid] {
			seen[uid] = true
			out = append(out, uid)
		}
	}
	return out
}

// TestTerminationEditedManifestNoOverlap: the old pod of an edited
// manifest (TERM ignored, 3 s grace) is gone completely before the new one
// starts: no moment has tasks of both pod UIDs running.
func TestTerminationEditedManifestNoOverlap(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", termPod("edited", 3, ignoresTerm, "1"))
	old := d.waitRunning("term", "edited")
	oldUID := string(old.UID)

	sampler := startTaskSampler(d)
	edited := time.Now()
	d.writeManifest("pod.yaml", termPod("edited", 3, ignoresTerm, "2"))
	newPod := d.waitPod("term", "edited", 60*time.Second, func(p *v1.Pod) (bool, string) {
		if string(p.UID) == oldUID {
			return false, "still the old pod " + summary(p)
		}
		return runningAndReady(p)
	})
	took := time.Since(edited)
	// One more sample with the new pod running.
	time.Sleep(400 * time.Millisecond)
	samples := sampler.finish(t)
	newUID := string(newPod.UID)
	t.Logf("new pod %s running %s after the edit; %d samples", newUID, took.Round(100*time.Millisecond), len(samples))

	var sawOld, sawNew bool
	var lastOld, firstNew time.Time
	overlaps := 0
	for _, s := range samples {
		uids := s.uidsOf()
		for _, u := range uids {
			switch u {
			case oldUID:
				sawOld, lastOld = true, s.at
			case newUID:
				if !sawNew {
					firstNew = s.at
				}
				sawNew = true
			}
		}
		if len(uids) > 1 {
			overlaps++
			if overlaps <= 5 {
				t.Errorf("at %s tasks of %d pods run at once: %v", s.at.Format("15:04:05.000"), len(uids), s.running)
			}
		}
	}
	if overlaps > 5 {
		t.Errorf("... %d samples in all with tasks of both pods running", overlaps)
	}
	if !sawOld || !sawNew {
		t.Errorf("sampler saw the old pod's tasks: %v, the new pod's: %v; want both (samples prove nothing otherwise)", sawOld, sawNew)
	} else {
		t.Logf("old pod's tasks last seen %s, new pod's first seen %s", lastOld.Format("15:04:05.000"), firstNew.Format("15:04:05.000"))
	}
	// The old pod ignored SIGTERM: it took its grace period to go.
	if took < 2500*time.Millisecond {
		t.Errorf("new pod running %s after the edit, want after the old pod's 3 s grace period", took.Round(100*time.Millisecond))
	}
	if n := len(d.podContainers(oldUID)); n != 0 {
		t.Errorf("old pod %s still has %d containerd containers", oldUID, n)
	}
}

// TestTerminationManifestPutBackWhileTerminating: a manifest removed and
// put back unchanged while its pod still terminates (4 s grace, TERM
// ignored) gets its pod back (same UID) once the old one is gone, with
// new containers; the two never run at once.
func TestTerminationManifestPutBackWhileTerminating(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	manifest := termPod("phoenix", 4, ignoresTerm, "1")
	d.writeManifest("pod.yaml", manifest)
	first := d.waitRunning("term", "phoenix")
	firstID := containerID(t, containerStatus(t, first, "main"))

	sampler := startTaskSampler(d)
	removed := time.Now()
	d.removeManifest("pod.yaml")
	d.waitPod("term", "phoenix", 10*time.Second, func(p *v1.Pod) (bool, string) {
		return p.DeletionTimestamp != nil, "no deletionTimestamp yet: " + summary(p)
	})
	d.writeManifest("pod.yaml", manifest)
	putBack := time.Now()
	t.Logf("manifest put back %s after its removal", putBack.Sub(removed).Round(100*time.Millisecond))

	again := d.waitPod("term", "phoenix", 60*time.Second, func(p *v1.Pod) (bool, string) {
		if p.DeletionTimestamp != nil || len(p.Status.ContainerStatuses) != 1 {
			return false, summary(p)
		}
		if p.Status.ContainerStatuses[0].ContainerID == "containerd://"+firstID {
			return false, "still the first container " + summary(p)
		}
		return runningAndReady(p)
	})
	took := time.Since(removed)
	time.Sleep(400 * time.Millisecond)
	samples := sampler.finish(t)
	t.Logf("pod running again %s after the removal; %d samples", took.Round(100*time.Millisecond), len(samples))

	if again.UID != first.UID {
		t.Errorf("pod UID %s after the manifest came back unchanged, want %s", again.UID, first.UID)
	}
	cs := containerStatus(t, again, "main")
	if cs.State.Running == nil || cs.State.Running.StartedAt.Time.Before(removed.Add(2*time.Second).Truncate(time.Second)) {
		t.Errorf("container state %+v: want it started after the old pod's 4 s grace period (manifest removed at %s)", cs.State, removed.UTC().Format(time.RFC3339))
	}
	if took < 3500*time.Millisecond {
		t.Errorf("pod running again %s after the removal, before the old one's 4 s grace period was over", took.Round(100*time.Millisecond))
	}
	// Never two sandboxes or two main containers of the pod at once.
	overlaps := 0
	for _, s := range samples {
		count := map[string]int{}
		for _, r := range s.running {
			count[r]++
		}
		for k, n := range count {
			if n > 1 {
				overlaps++
				if overlaps <= 5 {
					t.Errorf("at %s, %d running tasks of %s (old and new pod at once): %v", s.at.Format("15:04:05.000"), n, k, s.running)
				}
			}
		}
	}
	// Stays up: a late kill of the old worker must not take the new pod.
	time.Sleep(time.Second)
	p, err := d.getPod("term", "phoenix")
	switch {
	case errors.Is(err, api.ErrNotFound):
		t.Errorf("pod gone a second after it ran again")
	case err != nil:
		t.Error(err)
	default:
		if ok, msg := runningAndReady(p); !ok || p.DeletionTimestamp != nil {
			t.Errorf("a second after it ran again: %s (deletionTimestamp %v)", msg, p.DeletionTimestamp)
		}
	}
}

// TestTerminationDaemonStopLeavesPods: SIGTERM or SIGINT to the daemon
// leaves its pods running, even one whose container ignores SIGTERM and
// has a long grace period, and the daemon exits within a few seconds.
func TestTerminationDaemonStopLeavesPods(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", termPod("stays", 30, ignoresTerm, "1"))
	pod := d.waitRunning("term", "stays")
	id := containerID(t, containerStatus(t, pod, "main"))
	pid := d.taskPid(id)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		start := time.Now()
		if err := d.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			t.Fatalf("daemon still running 15 s after %v", sig)
		}
		took := time.Since(start)
		t.Logf("daemon exited %s after %v: %v", took.Round(10*time.Millisecond), sig, d.err)
		if took > 5*time.Second {
			t.Errorf("daemon took %s to exit on %v, want a few seconds at most", took.Round(100*time.Millisecond), sig)
		}
		if d.err != nil {
			t.Errorf("daemon exit on %v: %v, want a clean exit", sig, d.err)
		}
		time.Sleep(500 * time.Millisecond)
		if got := d.taskPid(id); got != pid {
			t.Fatalf("after %v to the daemon: container task pid %d, want %d still running", sig, got, pid)
		}
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("after %v to the daemon: container process %d: %v", sig, pid, err)
		}
		d.start()
		adopted := d.waitRunning("term", "stays")
		if got := containerID(t, containerStatus(t, adopted, "main")); got != id || adopted.UID != pod.UID {
			t.Fatalf("after %v and a new start: pod %s container %s, want the adopted %s %s", sig, adopted.UID, got, pod.UID, id)
		}
	}
}
