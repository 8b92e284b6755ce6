package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestResourceFieldRefEnv: env from resourceFieldRef carries the
// container's limits and requests, divided and rounded up.
func TestResourceFieldRefEnv(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("rf.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: resources
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: `+busyboxRef+`
    command: ["sh", "-c", "echo cpu=$CPU mem=$MEM req=$REQ; sleep 3600"]
    resources:
      limits: {cpu: 500m, memory: 64Mi}
      requests: {cpu: 250m, memory: 32Mi}
    env:
    - name: CPU
      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
    - name: MEM
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: REQ
      valueFrom: {resourceFieldRef: {resource: requests.memory}}
`)
	d.waitRunning("default", "resources")
	d.waitFor(20*time.Second, "env in the log", func() (bool, string) {
		out, _, _ := d.cli("logs", "resources")
		return strings.Contains(out, "cpu=500 mem=64 req=33554432"), out
	})
}
