package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestShareProcessNamespace: with shareProcessNamespace one container's ps
// sees the other's processes and the pause process as PID 1; without it,
// a container sees only its own.
func TestShareProcessNamespace(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	pod := func(name string, share bool) string {
		s := "false"
		if share {
			s = "true"
		}
		return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  shareProcessNamespace: ` + s + `
  terminationGracePeriodSeconds: 1
  containers:
  - name: other
    image: ` + busyboxRef + `
    command: ["sleep", "4242"]
  - name: looker
    image: ` + busyboxRef + `
    command: ["sh", "-c", "sleep 2; ps -o pid,args; sleep 3600"]
`
	}
	d.writeManifest("shared.yaml", pod("shared", true))
	d.writeManifest("private.yaml", pod("private", false))
	d.waitRunning("default", "shared")
	d.waitRunning("default", "private")
	logs := func(name string) string {
		var out string
		d.waitFor(20*time.Second, "ps output of "+name, func() (bool, string) {
			out, _, _ = d.cli("logs", name, "-c", "looker")
			return strings.Contains(out, "PID"), out
		})
		return out
	}
	shared := logs("shared")
	if !strings.Contains(shared, "sleep 4242") || !strings.Contains(shared, "/pause") {
		t.Errorf("shared PID namespace: ps does not show the other container and the pause process:\n%s", shared)
	}
	if private := logs("private"); strings.Contains(private, "sleep 4242") || strings.Contains(private, "/pause") {
		t.Errorf("private PID namespace shows other processes:\n%s", private)
	}
}
