package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
)

// Helpers of the probe tests (probes_test.go, probes_grpc_test.go). Each
// probe test runs one daemon with several pods at once, so their waits
// overlap, and checks every behaviour in a subtest. Subtests must not call
// helpers that fail through the daemon's own t (d.t), so everything here
// takes the subtest's t.

// probeNS is the namespace of every probe test pod.
const probeNS = "probes"

// probeImage is the e2e image: busybox (httpd with CGI) and /bin/grpc-health.
const probeImage = "localhost/minikubelet/busybox:e2e"

// probePod returns a one-container pod (container "main" unless named)
// running script with sh -c, with extra (ports, probes) indented under the
// container. The grace period is short: the containers' pid 1 mostly
// ignores SIGTERM, and a liveness kill should not wait 30 s.
func probePod(name, container, script, extra string) string {
	if container == "" {
		container = "main"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: %s
    image: %s
    command:
    - sh
    - -c
    - |
`, name, probeNS, container, probeImage)
	for _, l := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		b.WriteString("      " + l + "\n")
	}
	for _, l := range strings.Split(strings.TrimRight(extra, "\n"), "\n") {
		if l != "" {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}

// probeSleeper is a container script that waits forever and exits at
// once on SIGTERM (a plain sleep as pid 1 would ignore it).
const probeSleeper = "trap 'exit 0' TERM\nsleep 600 &\nwait\n"

// probeHTTPD runs busybox httpd on port 8080 with /index.html and two
// CGI scripts: /cgi-bin/probe answers 200 and logs the request's X-Probe
// and User-Agent headers to its stderr, which is httpd's, which is the
// container's log; /cgi-bin/redirect?LOCATION answers 302 to LOCATION.
const probeHTTPD = `mkdir -p /www/cgi-bin
echo ok > /www/index.html
cat > /www/cgi-bin/probe <<'EOF'
#!/bin/sh
echo "probe-request x-probe=[$HTTP_X_PROBE] user-agent=[$HTTP_USER_AGENT]" >&2
printf 'Content-Type: text/plain\r\n\r\nok\n'
EOF
cat > /www/cgi-bin/redirect <<'EOF'
#!/bin/sh
printf 'Status: 302 Found\r\nLocation: %s\r\nContent-Type: text/plain\r\n\r\nredirecting to %s\n' "$QUERY_STRING" "$QUERY_STRING"
EOF
chmod +x /www/cgi-bin/probe /www/cgi-bin/redirect
exec httpd -f -p 8080 -h /www
`

// probeSample is one GET /pods answer about one pod, and when it came.
type probeSample struct {
	at  time.Time
	pod *v1.Pod
}

// probeSampler polls GET /pods every 200 ms for the whole test and keeps
// every answer, so the tests can check what happened between their own
// looks: a restart count that went down, a ready that came too early.
type probeSampler struct {
	d    *daemon
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	hist    map[string][]probeSample // by pod name (namespace probeNS)
	lastErr error
}

// startProbeSampler starts sampling d's pods until the test ends (before
// the daemon's own cleanup, which t.Cleanup's order guarantees).
func startProbeSampler(t *testing.T, d *daemon) *probeSampler {
	s := &probeSampler{d: d, stop: make(chan struct{}), done: make(chan struct{}), hist: map[string][]probeSample{}}
	go s.loop()
	t.Cleanup(func() {
		close(s.stop)
		<-s.done
	})
	return s
}

func (s *probeSampler) loop() {
	defer close(s.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		list, err := s.d.client.ListPods(ctx)
		cancel()
		at := time.Now()
		s.mu.Lock()
		s.lastErr = err
		if err == nil {
			for i := range list.Items {
				p := &list.Items[i]
				s.d.env.rememberPodUID(string(p.UID))
				if p.Namespace == probeNS {
					s.hist[p.Name] = append(s.hist[p.Name], probeSample{at: at, pod: p})
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// history returns every sample of a pod so far.
func (s *probeSampler) history(name string) []probeSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]probeSample(nil), s.hist[name]...)
}

// latest returns the newest sample of a pod, nil if none yet.
func (s *probeSampler) latest(name string) *v1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist[name]
	if len(h) == 0 {
		return nil
	}
	return h[len(h)-1].pod
}

// wait polls the newest sample of a pod until cond holds and returns it;
// it fails t after timeout, or at once if the daemon exited.
func (s *probeSampler) wait(t *testing.T, name string, timeout time.Duration, what string, cond func(*v1.Pod) (bool, string)) *v1.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	msg := "no sample yet"
	for {
		if !s.d.alive() {
			t.Fatalf("daemon exited (%v) while waiting for %s of pod %s\n%s", s.d.err, what, name, tailFile(s.d.logPath, 60))
		}
		if p := s.latest(name); p != nil {
			var ok bool
			if ok, msg = cond(p); ok {
				return p
			}
			msg = msg + " | " + summary(p)
		} else {
			s.mu.Lock()
			if s.lastErr != nil {
				msg = "GET /pods: " + s.lastErr.Error()
			}
			s.mu.Unlock()
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s: timed out after %v waiting for %s: %s", probeNS, name, timeout, what, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAllReady waits until every pod named runs with all containers ready.
func (s *probeSampler) waitAllReady(t *testing.T, timeout time.Duration, names ...string) {
	t.Helper()
	for _, n := range names {
		s.wait(t, n, timeout, "running and ready", runningAndReady)
	}
}

// probeCS returns a container's status in a pod, ok false when absent.
func probeCS(p *v1.Pod, name string) (v1.ContainerStatus, bool) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name {
			return cs, true
		}
	}
	return v1.ContainerStatus{}, false
}

// restartsAtLeast is a wait condition: container c restarted n times.
func restartsAtLeast(c string, n int32) func(*v1.Pod) (bool, string) {
	return func(p *v1.Pod) (bool, string) {
		cs, ok := probeCS(p, c)
		if !ok {
			return false, "no status for container " + c
		}
		return cs.RestartCount >= n, fmt.Sprintf("restartCount %d", cs.RestartCount)
	}
}

// checkRestartsMonotonic checks that the container's restartCount never
// went down across every sample of the pod, and returns the distinct
// values seen in order.
func (s *probeSampler) checkRestartsMonotonic(t *testing.T, pod, c string) []int32 {
	t.Helper()
	var seen []int32
	var prev int32 = -1
	var prevAt time.Time
	for _, smp := range s.history(pod) {
		cs, ok := probeCS(smp.pod, c)
		if !ok {
			continue
		}
		if cs.RestartCount < prev {
			t.Errorf("pod %s container %s: restartCount went down from %d (at %s) to %d (at %s): %s",
				pod, c, prev, prevAt.Format("15:04:05.000"), cs.RestartCount, smp.at.Format("15:04:05.000"), summary(smp.pod))
		}
		if cs.RestartCount != prev {
			seen = append(seen, cs.RestartCount)
		}
		prev, prevAt = cs.RestartCount, smp.at
	}
	return seen
}

// checkSteady checks every sample since `since`: the container
// runs, has not restarted, and (with wantReady) stays ready.
func (s *probeSampler) checkSteady(t *testing.T, pod, c string, since time.Time, wantReady bool) {
	t.Helper()
	n := 0
	for _, smp := range s.history(pod) {
		if smp.at.Before(since) {
			continue
		}
		n++
		cs, ok := probeCS(smp.pod, c)
		switch {
		case !ok:
			t.Errorf("pod %s at %s: no status for %s", pod, smp.at.Format("15:04:05.000"), c)
		case cs.RestartCount != 0:
			t.Errorf("pod %s at %s: restartCount %d, want 0 (the probe passes): %s", pod, smp.at.Format("15:04:05.000"), cs.RestartCount, summary(smp.pod))
		case cs.State.Running == nil:
			t.Errorf("pod %s at %s: container not running: %s", pod, smp.at.Format("15:04:05.000"), summary(smp.pod))
		case cs.Ready != wantReady:
			t.Errorf("pod %s at %s: ready %v, want %v: %s", pod, smp.at.Format("15:04:05.000"), cs.Ready, wantReady, summary(smp.pod))
		default:
			continue
		}
		return // one report per pod is enough
	}
	if n < 5 {
		t.Errorf("pod %s: only %d samples since %s", pod, n, since.Format("15:04:05.000"))
	}
}

// requireEvent waits (a little: events follow the status) for an event
// and fails t when none comes.
func requireEvent(t *testing.T, d *daemon, pod, typ, reason, prefix string, contains ...string) *v1.Event {
	t.Helper()
	var evs []v1.Event
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs = podEvents(t, d, probeNS, pod)
		if e := findEvent(evs, typ, reason, prefix, contains...); e != nil {
			t.Logf("pod %s: event %s %s %s: %q", pod, e.Type, e.Reason, e.InvolvedObject.FieldPath, e.Message)
			return e
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	want := fmt.Sprintf("%s %s %q...", typ, reason, prefix)
	if len(contains) > 0 {
		want += fmt.Sprintf(" containing %q", contains)
	}
	t.Errorf("pod %s: no event %s; events:%s", pod, want, eventList(evs))
	return nil
}

// forbidEvent fails t if the pod has an event with this reason.
func forbidEvent(t *testing.T, d *daemon, pod, reason string) {
	t.Helper()
	evs := podEvents(t, d, probeNS, pod)
	for _, e := range evs {
		if e.Reason == reason {
			t.Errorf("pod %s: unexpected %s event %q; events:%s", pod, reason, e.Message, eventList(evs))
			return
		}
	}
}

// probeLogs returns the current log of a container.
func probeLogs(t *testing.T, d *daemon, pod, c string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := d.client.Logs(ctx, probeNS, pod, c, api.LogOptions{}, &buf); err != nil {
		t.Fatalf("logs of %s/%s %s: %v", probeNS, pod, c, err)
	}
	return buf.String()
}

// probeTaskPid returns the pid of a running container's task, 0 if none.
func probeTaskPid(t *testing.T, d *daemon, cs v1.ContainerStatus) int {
	t.Helper()
	id, ok := strings.CutPrefix(cs.ContainerID, "containerd://")
	if !ok || id == "" {
		t.Fatalf("container %s: containerID %q is not containerd://<id>", cs.Name, cs.ContainerID)
	}
	tasks, err := d.env.containerd.tasks(d.ns)
	if err != nil {
		t.Fatal(err)
	}
	return int(tasks[id])
}

// processesIn returns the live (not zombie) processes in the pid
// namespace nsLink (as readlink /proc/PID/ns/pid shows it) whose argv is
// exactly argv, by pid.
func processesIn(nsLink string, argv []string) []int {
	want := strings.Join(argv, "\x00") + "\x00"
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		if l, err := os.Readlink(filepath.Join(dir, "ns", "pid")); err != nil || l != nsLink {
			continue
		}
		if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err != nil || string(cmd) != want {
			continue
		}
		if st, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
			// pid (comm) S ...: the state follows the last ')'.
			if i := bytes.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) && (st[i+2] == 'Z' || st[i+2] == 'X') {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// writeProbePods writes one manifest file per pod.
func writeProbePods(d *daemon, pods map[string]string) {
	d.t.Helper()
	for name, m := range pods {
		d.writeManifest(name+".yaml", m)
	}
}
