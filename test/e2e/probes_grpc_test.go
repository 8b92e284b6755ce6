package e2e

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestProbeGRPC: grpc probes against /bin/grpc-health
// (test/images/grpc-health): SERVING passes, for the server and for a
// named service, and never restarts; NOT_SERVING restarts.
func TestProbeGRPC(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	s := startProbeSampler(t, d)
	writeProbePods(d, map[string]string{
		// Liveness asks for a named service, readiness for the server
		// (""). initialDelaySeconds 2: the first probe must not race the
		// server's start (a refused connection is an Unhealthy event).
		"grpc-pass": probePod("grpc-pass", "", "exec grpc-health -port 9090 -service minikubelet.probe", `
livenessProbe:
  grpc: {port: 9090, service: minikubelet.probe}
  initialDelaySeconds: 2
  periodSeconds: 1
readinessProbe:
  grpc: {port: 9090}
  initialDelaySeconds: 2
  periodSeconds: 1
`),
		"grpc-not-serving": probePod("grpc-not-serving", "", "exec grpc-health -port 9090 -status NOT_SERVING", `
livenessProbe:
  grpc: {port: 9090}
  initialDelaySeconds: 1
  periodSeconds: 1
  failureThreshold: 1
`),
	})

	t.Run("passing grpc liveness never restarts", func(t *testing.T) {
		s.waitAllReady(t, 60*time.Second, "grpc-pass")
		from := time.Now()
		time.Sleep(8 * time.Second)
		s.checkSteady(t, "grpc-pass", "main", from, true)
		forbidEvent(t, d, "grpc-pass", "Unhealthy")
		forbidEvent(t, d, "grpc-pass", "Killing")
		row, out := podRow(t, d, probeNS, "grpc-pass")
		if len(row) < 4 || row[1] != "1/1" || row[2] != "Running" || row[3] != "0" {
			t.Errorf("get pods row %q, want READY 1/1 STATUS Running RESTARTS 0; output:\n%s", row, out)
		}
	})

	t.Run("grpc liveness NOT_SERVING restarts", func(t *testing.T) {
		s.wait(t, "grpc-not-serving", 45*time.Second, "a restart", restartsAtLeast("main", 1))
		requireEvent(t, d, "grpc-not-serving", v1.EventTypeWarning, "Unhealthy",
			"Liveness probe failed: ", "NOT_SERVING")
		requireEvent(t, d, "grpc-not-serving", v1.EventTypeNormal, "Killing",
			"Container main failed liveness probe, will be restarted")
		s.checkRestartsMonotonic(t, "grpc-not-serving", "main")
	})
}
