package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetrics reads /metrics after a pod with a probe started: the pod
// start latency, pods by phase and probe durations are there.
func TestMetrics(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("m.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: measured
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: `+busyboxRef+`
    command: ["sleep", "3600"]
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
`)
	d.waitRunning("default", "measured")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
	}}, Timeout: 10 * time.Second}
	var body string
	waitFor(t, 20*time.Second, func() (bool, string) {
		resp, err := hc.Get("http://minikubelet/metrics")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		for _, want := range []string{
			"minikubelet_pod_start_duration_seconds_count 1",
			`minikubelet_pods{phase="Running"} 1`,
			`minikubelet_probe_duration_seconds_count{probe_type="Readiness",result="Success"}`,
			"minikubelet_containerd_up 1",
		} {
			if !strings.Contains(body, want) {
				return false, "missing " + want
			}
		}
		return true, ""
	})
}
