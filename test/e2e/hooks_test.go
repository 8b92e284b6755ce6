package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
)

// The lifecycle hook tests (SPEC section 3, Hooks): postStart and preStop
// with exec and httpGet handlers. Hooks that must be seen from outside
// talk to a small HTTP server the test runs on 127.0.0.1; the pods that
// call it use hostNetwork, so that 127.0.0.1 in the pod is the host's.

// hookRequest is one request the hook server received.
type hookRequest struct {
	Path      string
	UserAgent string
	At        time.Time
}

// hookServer records every request it gets. A path can be made to block
// until the test releases it (a postStart hook that takes its time).
type hookServer struct {
	port int

	mu    sync.Mutex
	reqs  []hookRequest
	block map[string]chan struct{}
}

// startHookServer listens on a free loopback port until t ends.
func startHookServer(t *testing.T) *hookServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &hookServer{port: ln.Addr().(*net.TCPAddr).Port, block: map[string]chan struct{}{}}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		s.mu.Lock()
		for p, ch := range s.block {
			close(ch)
			delete(s.block, p)
		}
		s.mu.Unlock()
		_ = srv.Close()
	})
	return s
}

func (s *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, hookRequest{Path: r.URL.Path, UserAgent: r.UserAgent(), At: time.Now()})
	ch := s.block[r.URL.Path]
	s.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-r.Context().Done():
		}
	}
	fmt.Fprintf(w, "ok %s\n", r.URL.Path)
}

// holdPath makes requests for path wait until the returned release runs.
func (s *hookServer) holdPath(path string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.block[path] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.block[path] == ch {
				delete(s.block, path)
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// first returns the first request for path.
func (s *hookServer) first(path string) (hookRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reqs {
		if r.Path == path {
			return r, true
		}
	}
	return hookRequest{}, false
}

// log lists the requests received, for failure messages.
func (s *hookServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, r := range s.reqs {
		fmt.Fprintf(&b, "\n  %s %s (User-Agent %q)", r.At.Format("15:04:05.000"), r.Path, r.UserAgent)
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// lifecycleDemoPod is the seed's lifecycle-demo with busybox in place of
// nginx. The image has no /usr/share, so the hook makes it. The main
// process waits for the message (the postStart hook runs after the start,
// so a fixed "sleep 1" would race with it) and prints it. The preStop hook
// is the busybox form of the seed's "nginx -s quit": it ends the main
// process's sleep, so the container exits well within its default 30 s
// grace period only if preStop ran. ("sleep 3600 & wait" and not a plain
// last "sleep 3600", which busybox sh would exec: sleep would be PID 1,
// and the shell would not be there to exit when it dies.)
const lifecycleDemoPod = `apiVersion: v1
kind: Pod
metadata:
  name: lifecycle-demo
spec:
  containers:
  - name: lifecycle-demo-container
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "sleep 1; until [ -f /usr/share/message ]; do sleep 1; done; cat /usr/share/message; sleep 3600 & wait"]
    lifecycle:
      postStart:
        exec:
          command: ["/bin/sh", "-c", "mkdir -p /usr/share && echo Hello from the postStart handler > /usr/share/message"]
      preStop:
        exec:
          command: ["/bin/sh", "-c", "killall sleep"]
`

// TestHookLifecycleDemo runs the seed's lifecycle-demo: the postStart hook
// writes /usr/share/message, the main process prints it, and the preStop
// hook makes the container exit on its own when the manifest goes.
func TestHookLifecycleDemo(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("lifecycle-demo.yaml", lifecycleDemoPod)
	pod := d.waitRunning("default", "lifecycle-demo")

	var out string
	d.waitFor(30*time.Second, "the postStart message in the log", func() (bool, string) {
		var errOut string
		var code int
		out, errOut, code = d.cli("logs", "lifecycle-demo")
		if code != 0 {
			return false, "minikubelet logs: " + errOut
		}
		return strings.Contains(out, "Hello from the postStart handler"), "log so far: " + out
	})
	if strings.Contains(out, "No such file") {
		t.Errorf("the main process did not find /usr/share/message at first: log %q", out)
	}
	for _, ev := range podEvents(t, d, "default", "lifecycle-demo") {
		if ev.Reason == "FailedPostStartHook" || ev.Reason == "FailedPreStopHook" {
			t.Errorf("event %s %s: %s", ev.Type, ev.Reason, ev.Message)
		}
	}
	cs := containerStatus(t, pod, "lifecycle-demo-container")
	if cs.RestartCount != 0 {
		t.Errorf("restartCount %d, want 0: %s", cs.RestartCount, summary(pod))
	}

	// The default grace period is 30 s; the preStop hook's killall ends the
	// main process's sleep, so the pod goes long before that.
	start := time.Now()
	d.removeManifest("lifecycle-demo.yaml")
	d.waitGone("default", "lifecycle-demo", 40*time.Second)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("pod took %s to go with a preStop hook that ends the main process, want well under the 30 s grace period (did preStop run?)", took.Round(100*time.Millisecond))
	}
	for _, ev := range podEvents(t, d, "default", "lifecycle-demo") {
		if ev.Reason == "FailedPreStopHook" {
			t.Errorf("event %s %s: %s", ev.Type, ev.Reason, ev.Message)
		}
	}
}

// TestHookPostStartFailureRestarts: a postStart hook that exits 1 gives a
// FailedPostStartHook Warning event, the container is killed and waits
// with PostStartHookError, and the restart policy (Always) restarts it.
// The hook's output goes to the daemon's debug log, never to the event
// (the command computes it, so the command's text in the event is no leak).
func TestHookPostStartFailureRestarts(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: poststart-fails
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo hook-out$((6*7))put; exit 1"]
`)
	reasons := map[string]bool{}
	var last *v1.Pod
	d.waitFor(45*time.Second, "a restart after the failed postStart hook", func() (bool, string) {
		p, err := d.getPod("default", "poststart-fails")
		if err != nil {
			return false, err.Error()
		}
		last = p
		if len(p.Status.ContainerStatuses) != 1 {
			return false, summary(p)
		}
		cs := p.Status.ContainerStatuses[0]
		if w := cs.State.Waiting; w != nil {
			reasons[w.Reason] = true
		}
		seen := reasons["PostStartHookError"] || reasons["CrashLoopBackOff"]
		return cs.RestartCount >= 1 && seen, fmt.Sprintf("waiting reasons seen %v; %s", reasons, summary(p))
	})
	t.Logf("waiting reasons seen: %v; last: %s", reasons, summary(last))
	if cs := containerStatus(t, last, "main"); cs.State.Running != nil && cs.Ready {
		// A failed postStart kills the attempt; a later one fails the same.
		t.Logf("note: container reported running and ready at the end: %s", summary(last))
	}

	evs := podEvents(t, d, "default", "poststart-fails")
	ev := findEvent(evs, v1.EventTypeWarning, "FailedPostStartHook", "")
	switch {
	case ev == nil:
		t.Errorf("no Warning FailedPostStartHook event; events:%s", eventList(evs))
	case strings.Contains(ev.Message, "hook-out42put"):
		t.Errorf("FailedPostStartHook event %q carries the hook's output (it belongs in the debug log only)", ev.Message)
	}
	if findEvent(evs, v1.EventTypeNormal, "Killing", "") == nil {
		t.Errorf("no Normal Killing event for the container that failed its postStart hook; events:%s", eventList(evs))
	}
	if b, err := os.ReadFile(d.logPath); err != nil {
		t.Error(err)
	} else if !strings.Contains(string(b), "hook-out42put") {
		t.Errorf("the hook's output is not in the daemon's debug log %s", d.logPath)
	}
}

// TestHookPostStartHoldsContainer: while a postStart hook runs, the
// container is not reported running, started or ready; once it returns,
// it is. The hook is an httpGet the test's server holds.
func TestHookPostStartHoldsContainer(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	srv := startHookServer(t)
	release := srv.holdPath("/poststart")
	defer release()
	d.writeManifest("pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: poststart-slow
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    lifecycle:
      postStart:
        httpGet:
          host: 127.0.0.1
          port: %d
          path: /poststart
`, srv.port))
	d.waitFor(60*time.Second, "the postStart httpGet request", func() (bool, string) {
		_, ok := srv.first("/poststart")
		return ok, "requests:" + srv.log()
	})
	if r, _ := srv.first("/poststart"); !strings.HasPrefix(r.UserAgent, "kube-lifecycle/") {
		t.Errorf("postStart httpGet User-Agent %q, want kube-lifecycle/<version>", r.UserAgent)
	}
	// Hold the hook for 2 s and watch the status meanwhile. The pod is
	// there (the kubelet shows it Pending, its container waiting in
	// ContainerCreating) but its container is not running, started or ready.
	until := time.Now().Add(2 * time.Second)
	notFound, seen := 0, 0
	for time.Now().Before(until) {
		p, err := d.getPod("default", "poststart-slow")
		switch {
		case errors.Is(err, api.ErrNotFound):
			notFound++
		case err != nil:
			t.Fatal(err)
		default:
			seen++
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Running != nil || cs.Ready || (cs.Started != nil && *cs.Started) {
					t.Fatalf("while its postStart hook runs, container %s is reported running/started/ready: %s", cs.Name, summary(p))
				}
			}
			if conditionStatus(p, v1.ContainersReady) == v1.ConditionTrue {
				t.Fatalf("pod ready while the postStart hook runs: %s", summary(p))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if notFound > 0 {
		t.Errorf("while the postStart hook ran, GET /pods/default/poststart-slow answered 404 %d times (and 200 %d times): the pod should be listed, Pending with its container waiting (ContainerCreating)", notFound, seen)
	}
	release()
	pod := d.waitPod("default", "poststart-slow", 15*time.Second, runningAndReady)
	if cs := containerStatus(t, pod, "main"); cs.RestartCount != 0 {
		t.Errorf("restartCount %d after a postStart hook that succeeded late, want 0", cs.RestartCount)
	}
	if ev := findEvent(podEvents(t, d, "default", "poststart-slow"), v1.EventTypeWarning, "FailedPostStartHook", ""); ev != nil {
		t.Errorf("FailedPostStartHook for a hook that succeeded: %s", ev.Message)
	}
}

// preStopPod has two containers on the host network: one with a preStop
// exec hook, one with a preStop httpGet hook, both calling the test's
// server. On SIGTERM each container reports /term-<name> to the server
// before it exits, so the server sees the order: hook, then stop signal.
func preStopPod(port int) string {
	trap := func(name string) string {
		return fmt.Sprintf(`trap 'wget -qO- http://127.0.0.1:%d/term-%s; exit 0' TERM; while :; do sleep 1; done`, port, name)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: prestop
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 10
  containers:
  - name: viaexec
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %q]
    lifecycle:
      preStop:
        exec:
          command: ["wget", "-qO-", "http://127.0.0.1:%d/exec"]
  - name: viahttp
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %q]
    lifecycle:
      preStop:
        httpGet:
          host: 127.0.0.1
          port: %d
          path: /http
`, trap("viaexec"), port, trap("viahttp"), port)
}

// TestHookPreStopExecAndHTTPGet: removing the manifest runs both preStop
// hooks, and both reach the test's listener before the containers get
// their stop signal (and so before they stop).
func TestHookPreStopExecAndHTTPGet(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	srv := startHookServer(t)
	d.writeManifest("prestop.yaml", preStopPod(srv.port))
	pod := d.waitRunning("default", "prestop")
	if _, ok := srv.first("/exec"); ok {
		t.Fatalf("preStop hook ran before the pod was deleted; requests:%s", srv.log())
	}

	removed := time.Now()
	d.removeManifest("prestop.yaml")
	var lastSeen *v1.Pod
	d.waitFor(30*time.Second, "pod prestop to be gone", func() (bool, string) {
		list, err := d.listPods()
		if err != nil {
			return false, err.Error()
		}
		for i := range list.Items {
			if p := &list.Items[i]; p.Name == "prestop" {
				lastSeen = p
				return false, "still there: " + summary(p)
			}
		}
		return true, ""
	})
	took := time.Since(removed)
	t.Logf("pod gone %s after the manifest was removed; requests:%s", took.Round(100*time.Millisecond), srv.log())

	for _, c := range []struct{ name, hook string }{{"viaexec", "/exec"}, {"viahttp", "/http"}} {
		hook, ok := srv.first(c.hook)
		if !ok {
			t.Errorf("container %s: its preStop hook never reached %s; requests:%s", c.name, c.hook, srv.log())
			continue
		}
		term, ok := srv.first("/term-" + c.name)
		switch {
		case !ok:
			t.Errorf("container %s never reported its SIGTERM (the stop signal after preStop); requests:%s", c.name, srv.log())
		case term.At.Before(hook.At):
			t.Errorf("container %s got its stop signal (%s) before its preStop hook reached %s (%s)",
				c.name, term.At.Format("15:04:05.000"), c.hook, hook.At.Format("15:04:05.000"))
		}
		// finishedAt has one-second resolution: compare at that grain.
		if lastSeen != nil {
			for _, cs := range lastSeen.Status.ContainerStatuses {
				if cs.Name == c.name && cs.State.Terminated != nil &&
					cs.State.Terminated.FinishedAt.Time.Before(hook.At.Truncate(time.Second)) {
					t.Errorf("container %s finished at %s, before its preStop hook reached %s at %s",
						c.name, cs.State.Terminated.FinishedAt.UTC().Format(time.RFC3339), c.hook, hook.At.UTC().Format(time.RFC3339Nano))
				}
			}
		}
	}
	if r, ok := srv.first("/http"); ok && !strings.HasPrefix(r.UserAgent, "kube-lifecycle/") {
		t.Errorf("preStop httpGet User-Agent %q, want kube-lifecycle/<version>", r.UserAgent)
	}
	// Both containers exit on SIGTERM: nothing waits for the 10 s grace.
	if took > 8*time.Second {
		t.Errorf("pod took %s to go, want well under its 10 s grace period (both containers exit on SIGTERM)", took.Round(100*time.Millisecond))
	}
	evs := podEvents(t, d, "default", "prestop")
	if ev := findEvent(evs, v1.EventTypeWarning, "FailedPreStopHook", ""); ev != nil {
		t.Errorf("FailedPreStopHook: %s", ev.Message)
	}
	for _, name := range []string{"viaexec", "viahttp"} {
		if findEvent(evs, v1.EventTypeNormal, "Killing", "Stopping container "+name) == nil {
			t.Errorf("no Normal Killing event \"Stopping container %s\"; events:%s", name, eventList(evs))
		}
	}
	if n := len(d.podContainers(string(pod.UID))); n != 0 {
		t.Errorf("%d containerd containers left of the pod", n)
	}
}

// TestHookPreStopBoundedByGracePeriod: a preStop hook longer than the
// grace period (sleep 30 s, grace 3 s) is cut off when the grace period
// is over; the stop signal then still gets its minimum 2 s before SIGKILL
// (the container ignores SIGTERM), so the pod goes after about 5 s.
func TestHookPreStopBoundedByGracePeriod(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: slow-prestop
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
    lifecycle:
      preStop:
        sleep:
          seconds: 30
`)
	d.waitRunning("default", "slow-prestop")
	start := time.Now()
	d.removeManifest("pod.yaml")
	d.waitGone("default", "slow-prestop", 40*time.Second)
	took := time.Since(start)
	t.Logf("pod gone %s after the manifest was removed; events:%s", took.Round(100*time.Millisecond), eventList(podEvents(t, d, "default", "slow-prestop")))
	if took < 4500*time.Millisecond || took > 11*time.Second {
		t.Errorf("pod with a 30 s preStop sleep, a 3 s grace period and SIGTERM ignored went after %s, want about 3 s + 2 s (4.5 s .. 11 s)", took.Round(100*time.Millisecond))
	}
}

// TestHookHTTPGetRedirectElsewhere: the daemon never carries a hook's GET
// to a host the pod names (review #7). The pod's server (busybox httpd on
// 127.0.0.2, host network) answers the postStart httpGet with
// `302 Location: http://127.0.0.1:<port>/x`, where the test's listener on
// the host's loopback records requests. The redirect is not followed; as
// in the kubelet, the redirect is the hook's answer and the hook succeeds.
// The server's own postStart waits until httpd listens, and the hooked
// container starts only after it, so the hook never races httpd.
func TestHookHTTPGetRedirectElsewhere(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	srv := startHookServer(t)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	httpd := strings.Replace(probeHTTPD, "-p 8080", fmt.Sprintf("-p 127.0.0.2:%d", port), 1)
	d.writeManifest("pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hook-redirect
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %q]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "until wget -qO- http://127.0.0.2:%d/ >/dev/null 2>&1; do sleep 0.1; done"]
  - name: hooked
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %q]
    lifecycle:
      postStart:
        httpGet:
          host: 127.0.0.2
          port: %d
          path: /cgi-bin/redirect?http://127.0.0.1:%d/x
`, httpd, port, probeSleeper, port, srv.port))
	pod := d.waitPod("default", "hook-redirect", 60*time.Second, runningAndReady)
	// The hook returned before "hooked" was reported running, so a
	// followed redirect would have reached the listener by now; give a
	// stray request a little longer anyway.
	time.Sleep(2 * time.Second)
	if r, ok := srv.first("/x"); ok {
		t.Errorf("the daemon followed the pod's redirect to the host's 127.0.0.1:%d (User-Agent %q); requests:%s", srv.port, r.UserAgent, srv.log())
	}
	evs := podEvents(t, d, "default", "hook-redirect")
	if ev := findEvent(evs, v1.EventTypeWarning, "FailedPostStartHook", ""); ev != nil {
		t.Errorf("FailedPostStartHook for a hook answered with a redirect (the kubelet counts any answer a success): %s", ev.Message)
	}
	if cs := containerStatus(t, pod, "hooked"); cs.RestartCount != 0 {
		t.Errorf("hooked restartCount %d, want 0: %s", cs.RestartCount, summary(pod))
	}
	if b, err := os.ReadFile(d.logPath); err != nil {
		t.Error(err)
	} else if want := fmt.Sprintf("redirect to http://127.0.0.1:%d/x not followed", srv.port); !strings.Contains(string(b), want) {
		t.Errorf("the daemon's debug log does not say %q", want)
	}
}
