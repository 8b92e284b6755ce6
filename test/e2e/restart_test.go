package e2e

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Every attempt of the container prints a line with a fresh random marker,
// which tells the attempts' logs apart.
const victimPod = `apiVersion: v1
kind: Pod
metadata:
  name: victim
  namespace: restarts
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "echo started-$(cat /proc/sys/kernel/random/uuid); exec sleep 3600"]
`

var markerRE = regexp.MustCompile(`started-[0-9a-f-]{36}`)

// TestKilledContainerRestarts kills a container's process from outside
// (as the OOM killer or an operator would) and checks that the restart
// policy brings it back as a new attempt inside the same pod sandbox, and
// that the previous attempt's log stays readable.
func TestKilledContainerRestarts(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("victim.yaml", victimPod)
	pod := d.waitRunning("restarts", "victim")
	first := containerID(t, containerStatus(t, pod, "main"))
	pid := d.taskPid(first)
	netBefore, ipcBefore := nsInode(t, pid, "net"), nsInode(t, pid, "ipc")
	firstMarker := d.waitLogMarker("victim", "restarts", false)

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	// The first restart is immediate (back-off starts at the second).
	pod = d.waitPod("restarts", "victim", 30*time.Second, func(p *v1.Pod) (bool, string) {
		cs := containerStatus(t, p, "main")
		if cs.RestartCount >= 1 && cs.State.Running != nil && cs.Ready {
			return true, ""
		}
		return false, summary(p)
	})
	cs := containerStatus(t, pod, "main")
	if cs.RestartCount != 1 {
		t.Errorf("restartCount = %d, want 1", cs.RestartCount)
	}
	second := containerID(t, cs)
	if second == first {
		t.Errorf("containerID %s unchanged after a restart; want a new attempt", first)
	}
	if term := cs.LastTerminationState.Terminated; term == nil {
		t.Errorf("lastState.terminated not set after the kill: %+v", cs.LastTerminationState)
	} else if term.ExitCode != 137 || term.Reason != "Error" {
		t.Errorf("lastState.terminated = exit %d reason %q, want exit 137 reason Error (SIGKILL, not an OOM event)", term.ExitCode, term.Reason)
	}
	if pod.Status.Phase != "Running" {
		t.Errorf("phase %s after the restart, want Running", pod.Status.Phase)
	}
	newPid := d.taskPid(second)
	if got := nsInode(t, newPid, "net"); got != netBefore {
		t.Errorf("restarted container's net namespace %s, want the sandbox's %s", got, netBefore)
	}
	if got := nsInode(t, newPid, "ipc"); got != ipcBefore {
		t.Errorf("restarted container's ipc namespace %s, want %s", got, ipcBefore)
	}

	t.Run("logs --previous", func(t *testing.T) {
		secondMarker := d.waitLogMarker("victim", "restarts", false)
		if secondMarker == firstMarker {
			t.Errorf("current log shows the first attempt's marker %s", firstMarker)
		}
		out := d.mustCLI("logs", "victim", "-n", "restarts", "--previous")
		if !strings.Contains(out, firstMarker) || strings.Contains(out, secondMarker) {
			t.Errorf("logs --previous = %q, want the first attempt's %s only", out, firstMarker)
		}
		out = d.mustCLI("logs", "victim", "-n", "restarts", "-p", "-c", "main")
		if !strings.Contains(out, firstMarker) {
			t.Errorf("logs -p -c main = %q, want %s", out, firstMarker)
		}
	})
}

// waitLogMarker waits until the current (or previous) log of the pod's
// only container shows a marker line, and returns the marker.
func (d *daemon) waitLogMarker(pod, ns string, previous bool) string {
	d.t.Helper()
	args := []string{"logs", pod, "-n", ns}
	if previous {
		args = append(args, "-p")
	}
	var marker string
	d.waitFor(20*time.Second, "marker in the log of "+pod, func() (bool, string) {
		out, errOut, code := d.cli(args...)
		if code != 0 {
			return false, "minikubelet logs: " + errOut
		}
		m := markerRE.FindAllString(out, -1)
		if len(m) != 1 {
			return false, "log: " + out
		}
		marker = m[0]
		return true, ""
	})
	return marker
}
