package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// sleeper is a one-container pod that traps SIGTERM, so it stops at once
// when asked; version lands in an env var, so an edit changes the spec.
func sleeper(name, version string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    version: "%s"
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    env:
    - name: VERSION
      value: "%s"
    command: ["sh", "-c", "trap 'exit 0' TERM; echo version=$VERSION; while :; do sleep 1; done"]
`, name, version, version)
}

// TestEditedManifestReplacesPod checks that an edited manifest makes a new
// pod (new UID) in place of the old one and leaves other pods alone, and
// that one file may hold several pods.
func TestEditedManifestReplacesPod(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("alpha.yaml", sleeper("alpha", "1"))
	d.writeManifest("beta.yaml", sleeper("beta", "1"))
	alpha := d.waitRunning("default", "alpha")
	beta := d.waitRunning("default", "beta")
	betaID := containerID(t, containerStatus(t, beta, "main"))

	d.writeManifest("alpha.yaml", sleeper("alpha", "2"))
	newAlpha := d.waitPod("default", "alpha", 60*time.Second, func(p *v1.Pod) (bool, string) {
		if p.UID == alpha.UID {
			return false, "still the old pod " + string(p.UID)
		}
		return runningAndReady(p)
	})
	if newAlpha.Labels["version"] != "2" {
		t.Errorf("new alpha has labels %v, want version=2", newAlpha.Labels)
	}
	if n := len(d.podContainers(string(alpha.UID))); n != 0 {
		t.Errorf("old alpha pod %s still has %d containerd containers", alpha.UID, n)
	}
	out := d.mustCLI("logs", "alpha")
	if !strings.Contains(out, "version=2") {
		t.Errorf("new alpha's log %q, want version=2", out)
	}

	beta2, err := d.getPod("default", "beta")
	if err != nil {
		t.Fatal(err)
	}
	cs := containerStatus(t, beta2, "main")
	if beta2.UID != beta.UID || containerID(t, cs) != betaID || cs.RestartCount != 0 {
		t.Errorf("beta was touched by alpha's edit: uid %s -> %s, container %s -> %s, restarts %d",
			beta.UID, beta2.UID, betaID, containerID(t, cs), cs.RestartCount)
	}

	t.Run("two documents in one file", func(t *testing.T) {
		d.writeManifest("pair.yaml", sleeper("gamma", "1")+"---\n"+sleeper("delta", "1"))
		gamma := d.waitRunning("default", "gamma")
		delta := d.waitRunning("default", "delta")
		if gamma.UID == delta.UID {
			t.Errorf("both documents got UID %s", gamma.UID)
		}
		// Removing the file removes both.
		d.removeManifest("pair.yaml")
		d.waitGone("default", "gamma", 30*time.Second)
		d.waitGone("default", "delta", 30*time.Second)
	})
}
