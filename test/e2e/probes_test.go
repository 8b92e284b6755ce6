package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/version"
)

// The probe tests: the behaviours the Kubernetes node e2e probe suite
// (test/e2e/common/node/container_probe.go) checks, scaled down to
// one-second periods, against a real containerd. Each test runs one daemon
// with all its pods at once and checks each behaviour in a subtest; the
// tests run in parallel with each other. Network probes dial inside the
// pod's network namespace (pods have no IP).

// TestProbeLivenessFailures: failing liveness and startup probes kill the
// container, the restart policy (Always) brings it back, and the restart
// count only grows.
func TestProbeLivenessFailures(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	s := startProbeSampler(t, d)
	writeProbePods(d, map[string]string{
		// The seed's test-liveness-exec, with shorter times (the seed
		// sleeps 30 s and probes every 5 s after 5 s).
		"liveness-exec": probePod("liveness-exec", "liveness",
			"touch /tmp/healthy; sleep 5; rm -f /tmp/healthy; sleep 600", `
livenessProbe:
  exec:
    command: [cat, /tmp/healthy]
  initialDelaySeconds: 1
  periodSeconds: 1
`),
		// initialDelaySeconds 1: the first probe must find httpd up, so
		// that it fails with 404 rather than a refused connection.
		"http-404": probePod("http-404", "", probeHTTPD, `
ports:
- {name: http, containerPort: 8080}
livenessProbe:
  httpGet: {path: /missing, port: http}
  initialDelaySeconds: 1
  periodSeconds: 1
  failureThreshold: 1
`),
		// A redirect to the same host is followed: to a 404 here.
		"http-redirect-local": probePod("http-redirect-local", "", probeHTTPD, `
livenessProbe:
  httpGet: {path: "/cgi-bin/redirect?/missing", port: 8080}
  initialDelaySeconds: 1
  periodSeconds: 1
  failureThreshold: 1
`),
		"http-closed": probePod("http-closed", "", probeHTTPD, `
livenessProbe:
  httpGet: {path: /index.html, port: 8081}
  periodSeconds: 1
  failureThreshold: 1
`),
		"tcp-closed": probePod("tcp-closed", "", probeSleeper, `
livenessProbe:
  tcpSocket: {port: 8080}
  periodSeconds: 1
  failureThreshold: 1
`),
		"exec-timeout": probePod("exec-timeout", "", probeSleeper, `
livenessProbe:
  exec:
    command: [sleep, "10"]
  timeoutSeconds: 1
  periodSeconds: 1
  failureThreshold: 2
`),
		// A readiness probe that always times out: the container stays,
		// so the probe processes can be counted over many periods.
		"exec-pileup": probePod("exec-pileup", "", probeSleeper, `
readinessProbe:
  exec:
    command: [sleep, "10"]
  timeoutSeconds: 1
  periodSeconds: 1
`),
		"startup-fail": probePod("startup-fail", "", probeSleeper, `
startupProbe:
  exec:
    command: ["false"]
  periodSeconds: 1
  failureThreshold: 2
`),
		// Liveness fails from the start; the startup probe passes only
		// after 6 s.
		"startup-holds": probePod("startup-holds", "",
			"sleep 6; touch /tmp/started\n"+probeSleeper, `
startupProbe:
  exec:
    command: [cat, /tmp/started]
  periodSeconds: 1
  failureThreshold: 30
livenessProbe:
  exec:
    command: ["false"]
  periodSeconds: 1
  failureThreshold: 1
`),
		// The pod's grace period is long and the container takes 8 s to
		// stop on SIGTERM; the probe's own grace period (1 s) applies.
		"liveness-grace": strings.Replace(probePod("liveness-grace", "",
			"trap 'sleep 8; exit 0' TERM\nsleep 600 &\nwait\n", `
livenessProbe:
  exec:
    command: ["false"]
  periodSeconds: 1
  failureThreshold: 1
  terminationGracePeriodSeconds: 1
`), "terminationGracePeriodSeconds: 1\n  containers:", "terminationGracePeriodSeconds: 600\n  containers:", 1),
		"restart-count": probePod("restart-count", "", probeSleeper, `
livenessProbe:
  exec:
    command: ["false"]
  periodSeconds: 1
  failureThreshold: 1
`),
	})

	t.Run("seed test-liveness-exec restarts", func(t *testing.T) {
		p := s.wait(t, "liveness-exec", 60*time.Second, "a restart", restartsAtLeast("liveness", 1))
		cs, _ := probeCS(p, "liveness")
		if term := cs.LastTerminationState.Terminated; term == nil {
			t.Errorf("lastState.terminated not set after the liveness kill: %s", summary(p))
		} else if lived := term.FinishedAt.Sub(term.StartedAt.Time); lived < 5*time.Second {
			// /tmp/healthy exists for the first 5 s.
			t.Errorf("first attempt lived %s (%s..%s), want at least 5 s: killed while the probe passed",
				lived, term.StartedAt.UTC().Format(time.RFC3339), term.FinishedAt.UTC().Format(time.RFC3339))
		}
		requireEvent(t, d, "liveness-exec", v1.EventTypeWarning, "Unhealthy",
			"Liveness probe failed: cat: can't open '/tmp/healthy'")
		requireEvent(t, d, "liveness-exec", v1.EventTypeNormal, "Killing",
			"Container liveness failed liveness probe, will be restarted")
		// The pod stays Running across the restart (restartPolicy Always).
		running := false
		for _, smp := range s.history("liveness-exec") {
			if smp.pod.Status.Phase == v1.PodRunning {
				running = true
			} else if running {
				t.Errorf("phase %s at %s after Running: %s", smp.pod.Status.Phase, smp.at.Format("15:04:05.000"), summary(smp.pod))
				break
			}
		}
	})

	t.Run("http liveness 404 restarts", func(t *testing.T) {
		s.wait(t, "http-404", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		requireEvent(t, d, "http-404", v1.EventTypeWarning, "Unhealthy",
			"Liveness probe failed: HTTP probe failed with statuscode: 404")
		requireEvent(t, d, "http-404", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
	})

	t.Run("http liveness local redirect to 404 restarts", func(t *testing.T) {
		s.wait(t, "http-redirect-local", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		requireEvent(t, d, "http-redirect-local", v1.EventTypeWarning, "Unhealthy",
			"Liveness probe failed: HTTP probe failed with statuscode: 404")
		requireEvent(t, d, "http-redirect-local", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
	})

	t.Run("http liveness closed port restarts", func(t *testing.T) {
		s.wait(t, "http-closed", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		requireEvent(t, d, "http-closed", v1.EventTypeWarning, "Unhealthy",
			"Liveness probe failed: ", "connection refused")
		requireEvent(t, d, "http-closed", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
	})

	t.Run("tcp liveness nothing listening restarts", func(t *testing.T) {
		s.wait(t, "tcp-closed", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		requireEvent(t, d, "tcp-closed", v1.EventTypeWarning, "Unhealthy",
			"Liveness probe failed: ", "connection refused")
		requireEvent(t, d, "tcp-closed", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
	})

	t.Run("exec liveness timeout is a failure", func(t *testing.T) {
		// Had the timeout not been enforced, `sleep 10` would pass after
		// 10 s, every time, and the container would never restart.
		p := s.wait(t, "exec-timeout", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		cs, _ := probeCS(p, "main")
		if term := cs.LastTerminationState.Terminated; term != nil {
			if lived := term.FinishedAt.Sub(term.StartedAt.Time); lived > 8*time.Second {
				t.Errorf("first attempt lived %s: two 1 s timeouts should have killed it within a few seconds", lived)
			}
		}
		// The kubelet's wording: `command "sleep 10" timed out`.
		requireEvent(t, d, "exec-timeout", v1.EventTypeWarning, "Unhealthy",
			`Liveness probe failed: command "sleep 10" timed out`)
		requireEvent(t, d, "exec-timeout", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
	})

	t.Run("timed out exec probes do not pile up", func(t *testing.T) {
		p := s.wait(t, "exec-pileup", 45*time.Second, "running", func(p *v1.Pod) (bool, string) {
			cs, ok := probeCS(p, "main")
			return ok && cs.State.Running != nil, "not running"
		})
		cs, _ := probeCS(p, "main")
		pid := probeTaskPid(t, d, cs)
		if pid == 0 {
			t.Fatalf("no task for %s", cs.ContainerID)
		}
		nsLink := nsInode(t, pid, "pid")
		// Every period starts a `sleep 10` that times out after 1 s; had
		// the timed-out ones been left running (the kubelet's
		// kubernetes#110070), about 10 would be alive at once by the end.
		maxAlive, seenAny := 0, 0
		var worst []int
		end := time.Now().Add(8 * time.Second)
		for time.Now().Before(end) {
			pids := processesIn(nsLink, []string{"sleep", "10"})
			if len(pids) > 0 {
				seenAny++
			}
			if len(pids) > maxAlive {
				maxAlive, worst = len(pids), pids
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("`sleep 10` probe processes: at most %d alive at once; some alive in %d of the samples over 8 s", maxAlive, seenAny)
		if maxAlive > 1 {
			t.Errorf("up to %d `sleep 10` probe processes alive at once in the container's pid namespace %s (pids %v), want at most 1: timed-out exec probes pile up",
				maxAlive, nsLink, worst)
		}
		if seenAny == 0 {
			t.Errorf("never saw a `sleep 10` probe process in the container's pid namespace %s in 8 s: are exec probes run at all?", nsLink)
		}
		p = s.latest("exec-pileup")
		cs, _ = probeCS(p, "main")
		if cs.Ready || cs.RestartCount != 0 {
			t.Errorf("ready %v restartCount %d, want not ready (the readiness probe times out) and no restart: %s", cs.Ready, cs.RestartCount, summary(p))
		}
		requireEvent(t, d, "exec-pileup", v1.EventTypeWarning, "Unhealthy", `Readiness probe failed: command "sleep 10" timed out`)
	})

	t.Run("failing startup probe restarts", func(t *testing.T) {
		s.wait(t, "startup-fail", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		for _, smp := range s.history("startup-fail") {
			if cs, ok := probeCS(smp.pod, "main"); ok && (cs.Ready || (cs.Started != nil && *cs.Started)) {
				t.Errorf("at %s: started/ready although the startup probe never passes: %s", smp.at.Format("15:04:05.000"), summary(smp.pod))
				break
			}
		}
		requireEvent(t, d, "startup-fail", v1.EventTypeWarning, "Unhealthy", "Startup probe failed: ")
		requireEvent(t, d, "startup-fail", v1.EventTypeNormal, "Killing",
			"Container main failed startup probe, will be restarted")
		forbidEvent(t, d, "startup-fail", "ProbeWarning")
	})

	t.Run("startup probe holds liveness back", func(t *testing.T) {
		// Once the startup probe passed, the failing liveness probe may
		// (and, as the node e2e suite's "should be restarted by liveness
		// probe after startup probe enables it" checks, does) restart.
		p := s.wait(t, "startup-holds", 60*time.Second, "a restart after startup", restartsAtLeast("main", 1))
		cs, _ := probeCS(p, "main")
		if term := cs.LastTerminationState.Terminated; term == nil {
			t.Errorf("lastState.terminated not set: %s", summary(p))
		} else if lived := term.FinishedAt.Sub(term.StartedAt.Time); lived < 5*time.Second {
			t.Errorf("first attempt lived %s (%s..%s): the liveness probe killed it before the startup probe could pass (at 6 s)",
				lived, term.StartedAt.UTC().Format(time.RFC3339), term.FinishedAt.UTC().Format(time.RFC3339))
		}
		// Samples: no restart before the status said started.
		started := false
		for _, smp := range s.history("startup-holds") {
			cs, ok := probeCS(smp.pod, "main")
			if !ok {
				continue
			}
			if cs.Started != nil && *cs.Started {
				started = true
			}
			if cs.RestartCount > 0 {
				if !started {
					t.Errorf("restarted at %s before the startup probe passed (status never showed started=true before): %s",
						smp.at.Format("15:04:05.000"), summary(smp.pod))
				}
				break
			}
		}
		requireEvent(t, d, "startup-holds", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
	})

	t.Run("probe terminationGracePeriodSeconds overrides the pod's", func(t *testing.T) {
		p := s.wait(t, "liveness-grace", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		if p.Spec.TerminationGracePeriodSeconds == nil || *p.Spec.TerminationGracePeriodSeconds != 600 {
			t.Fatalf("pod terminationGracePeriodSeconds %v, want 600 (test setup)", p.Spec.TerminationGracePeriodSeconds)
		}
		cs, _ := probeCS(p, "main")
		term := cs.LastTerminationState.Terminated
		if term == nil {
			t.Fatalf("lastState.terminated not set: %s", summary(p))
		}
		// SIGTERM, then SIGKILL 1 s later while the trap still sleeps:
		// exit 137, about 2 s after the start. The pod's 600 s would let
		// the trap finish (exit 0, 9 s or more).
		lived := term.FinishedAt.Sub(term.StartedAt.Time)
		t.Logf("first attempt: exit %d reason %q after %s", term.ExitCode, term.Reason, lived)
		if term.ExitCode != 137 || lived > 6*time.Second {
			t.Errorf("first attempt: exit %d reason %q after %s, want exit 137 (SIGKILL after the probe's 1 s grace period) within a few seconds",
				term.ExitCode, term.Reason, lived)
		}
	})

	t.Run("restart count only grows", func(t *testing.T) {
		// Restarts 1 (at once), 2 (10 s back-off) and 3 (20 s).
		s.wait(t, "restart-count", 90*time.Second, "three restarts", restartsAtLeast("main", 3))
		seen := s.checkRestartsMonotonic(t, "restart-count", "main")
		t.Logf("restartCount values seen, in order: %v", seen)
		if len(seen) < 3 {
			t.Errorf("saw restartCount values %v, want the count sampled across several restarts", seen)
		}
		for _, name := range []string{"liveness-exec", "http-404", "http-redirect-local", "http-closed", "tcp-closed", "exec-timeout", "startup-fail", "startup-holds"} {
			c := "main"
			if name == "liveness-exec" {
				c = "liveness"
			}
			s.checkRestartsMonotonic(t, name, c)
		}
		// And the row shows it.
		row, out := podRow(t, d, probeNS, "restart-count")
		if len(row) < 4 || row[2] == "" {
			t.Errorf("get pods: no row for restart-count:\n%s", out)
		} else if n := strings.Fields(row[3])[0]; n == "0" || n == "1" || n == "2" {
			t.Errorf("get pods RESTARTS %q after three restarts:\n%s", row[3], out)
		}
	})
}

// TestProbeReadiness: readiness waits for initialDelaySeconds, a failing
// readiness probe leaves the container running but not ready, and
// readiness is probed as soon as the startup probe passes.
func TestProbeReadiness(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	s := startProbeSampler(t, d)
	const delay = 5
	writeProbePods(d, map[string]string{
		"ready-delay": probePod("ready-delay", "", probeSleeper, fmt.Sprintf(`
readinessProbe:
  exec:
    command: ["true"]
  initialDelaySeconds: %d
  periodSeconds: 1
`, delay)),
		"never-ready": probePod("never-ready", "", probeSleeper, `
readinessProbe:
  exec:
    command: ["false"]
  periodSeconds: 1
`),
		// The startup probe passes at about 3 s; readiness has a 60 s
		// period, so a readiness probe that waited for its next period
		// would leave the container unready for a minute.
		"startup-ready": probePod("startup-ready", "", "sleep 3; touch /tmp/started\n"+probeSleeper, `
startupProbe:
  exec:
    command: [cat, /tmp/started]
  periodSeconds: 1
  failureThreshold: 30
readinessProbe:
  exec:
    command: ["true"]
  periodSeconds: 60
`),
	})

	t.Run("readiness respects initialDelaySeconds", func(t *testing.T) {
		p := s.wait(t, "ready-delay", 60*time.Second, "ready", runningAndReady)
		cs, _ := probeCS(p, "main")
		start := cs.State.Running.StartedAt.Time
		// Never ready before the delay, in any sample (startedAt has
		// one-second resolution and is rounded down, so start+delay is
		// at or before the earliest legitimate moment).
		for _, smp := range s.history("ready-delay") {
			c, ok := probeCS(smp.pod, "main")
			if ok && c.Ready && smp.at.Before(start.Add(delay*time.Second)) {
				t.Errorf("ready at %s, %s after the container started at %s: before initialDelaySeconds %d",
					smp.at.Format("15:04:05.000"), smp.at.Sub(start), start.Format(time.RFC3339), delay)
				break
			}
		}
		// What the node e2e suite checks: the Ready condition's transition
		// against the container's start.
		var readyAt time.Time
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
				readyAt = c.LastTransitionTime.Time
			}
		}
		switch {
		case readyAt.IsZero():
			t.Errorf("no Ready=True condition: %+v", p.Status.Conditions)
		case readyAt.Sub(start) < delay*time.Second:
			t.Errorf("Ready since %s, %s after startedAt %s: less than initialDelaySeconds %d",
				readyAt.Format(time.RFC3339), readyAt.Sub(start), start.Format(time.RFC3339), delay)
		case readyAt.Sub(start) > (delay+4)*time.Second:
			t.Errorf("Ready since %s, %s after startedAt %s: want soon after initialDelaySeconds %d with periodSeconds 1",
				readyAt.Format(time.RFC3339), readyAt.Sub(start), start.Format(time.RFC3339), delay)
		}
		if got := conditionStatus(p, v1.ContainersReady); got != v1.ConditionTrue {
			t.Errorf("ContainersReady %q, want True", got)
		}
		// And it never restarts: watch a little longer.
		time.Sleep(3 * time.Second)
		s.checkSteady(t, "ready-delay", "main", time.Now().Add(-3*time.Second), true)
		s.checkRestartsMonotonic(t, "ready-delay", "main")
		if cs, _ := probeCS(s.latest("ready-delay"), "main"); cs.RestartCount != 0 {
			t.Errorf("restartCount %d, want 0", cs.RestartCount)
		}
	})

	t.Run("failing readiness is never ready and never restarts", func(t *testing.T) {
		p := s.wait(t, "never-ready", 60*time.Second, "running", func(p *v1.Pod) (bool, string) {
			cs, ok := probeCS(p, "main")
			return ok && cs.State.Running != nil && p.Status.Phase == v1.PodRunning, "not running"
		})
		cs, _ := probeCS(p, "main")
		// Observe at least 8 probe periods after the start.
		if wait := time.Until(cs.State.Running.StartedAt.Add(9 * time.Second)); wait > 0 {
			time.Sleep(wait)
		}
		for _, smp := range s.history("never-ready") {
			c, ok := probeCS(smp.pod, "main")
			if !ok {
				continue
			}
			if c.Ready || c.RestartCount != 0 || conditionStatus(smp.pod, v1.PodReady) == v1.ConditionTrue {
				t.Errorf("at %s: ready %v restartCount %d Ready condition %s; want never ready, no restart: %s",
					smp.at.Format("15:04:05.000"), c.Ready, c.RestartCount, conditionStatus(smp.pod, v1.PodReady), summary(smp.pod))
				break
			}
		}
		p = s.latest("never-ready")
		if cs, _ := probeCS(p, "main"); cs.State.Running == nil {
			t.Errorf("container not running: %s", summary(p))
		}
		for _, c := range []v1.PodConditionType{v1.ContainersReady, v1.PodReady} {
			if got := conditionStatus(p, c); got != v1.ConditionFalse {
				t.Errorf("condition %s = %q, want False", c, got)
			}
		}
		row, out := podRow(t, d, probeNS, "never-ready")
		if len(row) < 4 || row[1] != "0/1" || row[2] != "Running" || row[3] != "0" {
			t.Errorf("get pods row %q, want READY 0/1 STATUS Running RESTARTS 0; output:\n%s", row, out)
		}
		requireEvent(t, d, "never-ready", v1.EventTypeWarning, "Unhealthy", "Readiness probe failed: ")
		forbidEvent(t, d, "never-ready", "Killing")
	})

	t.Run("ready right after the startup probe passes", func(t *testing.T) {
		p := s.wait(t, "startup-ready", 40*time.Second, "ready", runningAndReady)
		cs, _ := probeCS(p, "main")
		start := cs.State.Running.StartedAt.Time
		var readyAt time.Time
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
				readyAt = c.LastTransitionTime.Time
			}
		}
		switch {
		case readyAt.IsZero():
			t.Errorf("no Ready=True condition: %+v", p.Status.Conditions)
		case readyAt.Sub(start) < 3*time.Second:
			t.Errorf("Ready since %s, %s after startedAt %s: before the startup probe could pass (/tmp/started appears at 3 s)",
				readyAt.Format(time.RFC3339), readyAt.Sub(start), start.Format(time.RFC3339))
		case readyAt.Sub(start) > 9*time.Second:
			t.Errorf("Ready since %s, %s after startedAt %s: readiness was not probed right after the startup probe passed (at ~3 s)",
				readyAt.Format(time.RFC3339), readyAt.Sub(start), start.Format(time.RFC3339))
		}
		// From the samples: started, then ready within a few seconds; never
		// ready before started.
		var startedSeen, readySeen time.Time
		for _, smp := range s.history("startup-ready") {
			c, ok := probeCS(smp.pod, "main")
			if !ok {
				continue
			}
			if c.Started != nil && *c.Started && startedSeen.IsZero() {
				startedSeen = smp.at
			}
			if c.Ready && readySeen.IsZero() {
				readySeen = smp.at
				if startedSeen.IsZero() {
					t.Errorf("ready at %s before the status said started: %s", smp.at.Format("15:04:05.000"), summary(smp.pod))
				}
			}
		}
		if !startedSeen.IsZero() && !readySeen.IsZero() {
			t.Logf("started seen at %s, ready seen at %s (%s later)", startedSeen.Format("15:04:05.000"), readySeen.Format("15:04:05.000"), readySeen.Sub(startedSeen))
			if readySeen.Sub(startedSeen) > 3*time.Second {
				t.Errorf("ready %s after started, want within a few seconds (readiness periodSeconds is 60)", readySeen.Sub(startedSeen))
			}
		}
		if cs.RestartCount != 0 {
			t.Errorf("restartCount %d, want 0", cs.RestartCount)
		}
	})
}

// TestProbeLivenessPasses: passing exec, http (named port), tcp and
// readiness-with-headers probes never restart or unready the container;
// the http probe sends the spec's headers and kube-probe's User-Agent.
func TestProbeLivenessPasses(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	s := startProbeSampler(t, d)
	// initialDelaySeconds 2 (the node e2e suite uses 15) keeps the first
	// probe from racing the server's start: a refused first connection
	// would be an Unhealthy event, which these pods must not have.
	pods := map[string]string{
		"exec-pass": probePod("exec-pass", "", "touch /tmp/healthy\n"+probeSleeper, `
livenessProbe:
  exec:
    command: [cat, /tmp/healthy]
  initialDelaySeconds: 2
  periodSeconds: 1
`),
		"http-pass": probePod("http-pass", "", probeHTTPD, `
ports:
- {name: web, containerPort: 8080}
livenessProbe:
  httpGet: {path: /index.html, port: web}
  initialDelaySeconds: 2
  periodSeconds: 1
`),
		// A redirect to the same host is followed (to a 200 here).
		"http-redirect-ok": probePod("http-redirect-ok", "", probeHTTPD, `
livenessProbe:
  httpGet: {path: "/cgi-bin/redirect?/index.html", port: 8080}
  initialDelaySeconds: 2
  periodSeconds: 1
`),
		// A redirect to another host is not followed: the 302 itself
		// passes, with a ProbeWarning event.
		"http-redirect-remote": probePod("http-redirect-remote", "", probeHTTPD, `
livenessProbe:
  httpGet: {path: "/cgi-bin/redirect?http://0.0.0.0/", port: 8080}
  initialDelaySeconds: 2
  periodSeconds: 1
`),
		"tcp-pass": probePod("tcp-pass", "", probeHTTPD, `
livenessProbe:
  tcpSocket: {port: 8080}
  initialDelaySeconds: 2
  periodSeconds: 1
`),
		"http-headers": probePod("http-headers", "", probeHTTPD, `
ports:
- {name: http, containerPort: 8080}
readinessProbe:
  httpGet:
    path: /cgi-bin/probe
    port: http
    httpHeaders:
    - {name: X-Probe, value: hello}
  initialDelaySeconds: 2
  periodSeconds: 1
livenessProbe:
  httpGet:
    path: /cgi-bin/probe
    port: 8080
    httpHeaders:
    - {name: X-Probe, value: hello}
  initialDelaySeconds: 2
  periodSeconds: 1
`),
	}
	writeProbePods(d, pods)
	names := []string{"exec-pass", "http-pass", "http-redirect-ok", "http-redirect-remote", "tcp-pass", "http-headers"}

	// All ready, then ~8 probe periods of watching.
	s.waitAllReady(t, 60*time.Second, names...)
	from := time.Now()
	time.Sleep(8 * time.Second)

	for _, name := range names {
		t.Run(name+" never restarts", func(t *testing.T) {
			s.checkSteady(t, name, "main", from, true)
			s.checkRestartsMonotonic(t, name, "main")
			forbidEvent(t, d, name, "Unhealthy")
			forbidEvent(t, d, name, "Killing")
			row, out := podRow(t, d, probeNS, name)
			if len(row) < 4 || row[1] != "1/1" || row[2] != "Running" || row[3] != "0" {
				t.Errorf("get pods row %q, want READY 1/1 STATUS Running RESTARTS 0; output:\n%s", row, out)
			}
		})
	}

	t.Run("non-local redirect passes with a ProbeWarning", func(t *testing.T) {
		requireEvent(t, d, "http-redirect-remote", v1.EventTypeWarning, "ProbeWarning",
			"Liveness probe warning: Probe terminated redirects, Response body: redirecting to http://0.0.0.0/")
		forbidEvent(t, d, "http-redirect-ok", "ProbeWarning")
	})

	t.Run("httpHeaders and User-Agent reach the server", func(t *testing.T) {
		logs := probeLogs(t, d, "http-headers", "main")
		wantUA := "kube-probe/" + strings.TrimPrefix(version.KubeletVersion, "v")
		var lines []string
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "probe-request") {
				lines = append(lines, l)
			}
		}
		if len(lines) < 5 {
			t.Fatalf("%d probe requests logged by the CGI script in ~10 s of 1 s readiness and liveness probes, want many; log:\n%s", len(lines), logs)
		}
		want := fmt.Sprintf("probe-request x-probe=[hello] user-agent=[%s]", wantUA)
		for _, l := range lines {
			if !strings.HasSuffix(l, want) {
				t.Errorf("CGI saw %q, want %q (X-Probe from httpHeaders, User-Agent %s)", l, want, wantUA)
				break
			}
		}
		if wantUA != "kube-probe/1.37" {
			t.Logf("note: the kubelet version is now %s", version.KubeletVersion)
		}
	})
}
