package e2e

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// oomPod is a pod under Never whose one container, limited to 20Mi, runs
// script. `x=$(yes | head -c 67108864)` makes the shell hold 64 MiB of
// anonymous memory in a variable, far past the limit: the kernel's OOM
// killer ends it (there is no swap to escape to on a test machine; with
// swap, memory.memsw is not limited and the test could only be slower).
func oomPod(name, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: oom
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: hog
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %q]
    resources:
      limits:
        memory: 20Mi
`, name, script)
}

// TestOOMKilled: a container that allocates past its memory limit is
// reported OOMKilled (from containerd's OOM event), the pod under Never
// fails, and `get pods` shows OOMKilled.
func TestOOMKilled(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("hog.yaml", oomPod("hog", `x=$(yes | head -c 67108864); echo "survived with ${#x} bytes"`))
	// The kill is not the main process's: the shell's child is killed and
	// the shell exits 1. containerd still reports the OOM, and the
	// kubelet (through containerd's CRI) still says OOMKilled.
	d.writeManifest("child.yaml", oomPod("child", `sh -c 'x=$(yes | head -c 67108864)'; echo "child exited $?"; exit 1`))

	// The main process killed.
	{
		pod := d.waitPhase("oom", "hog", v1.PodFailed, 60*time.Second)
		cs := containerStatus(t, pod, "hog")
		term := cs.State.Terminated
		if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
			t.Errorf("state %+v, want terminated reason OOMKilled exit 137: %s", cs.State, summary(pod))
		}
		if cs.RestartCount != 0 {
			t.Errorf("restartCount %d under Never", cs.RestartCount)
		}
		d.checkRow(t, "oom", "hog", "0/1", "OOMKilled")
	}
	// A child killed, the main process exiting 1.
	{
		pod := d.waitPhase("oom", "child", v1.PodFailed, 60*time.Second)
		cs := containerStatus(t, pod, "hog")
		term := cs.State.Terminated
		if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 1 {
			t.Errorf("state %+v, want terminated reason OOMKilled exit 1 (the OOM event, not the exit code, decides): %s", cs.State, summary(pod))
		}
		d.checkRow(t, "oom", "child", "0/1", "OOMKilled")
	}
}
