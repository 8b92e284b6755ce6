package e2e

import (
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestDaemonRestartAdoptsPods checks section 4 of the contract: stopping
// the daemon leaves its pods running (as the kubelet does), and the next
// daemon adopts them without restarting them, keeping restart counts.
func TestDaemonRestartAdoptsPods(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("survivor.yaml", sleeper("survivor", "1"))
	pod := d.waitRunning("default", "survivor")
	first := containerID(t, containerStatus(t, pod, "main"))

	// One restart before the daemon goes, so there is a count to keep.
	if err := syscall.Kill(d.taskPid(first), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pod = d.waitPod("default", "survivor", 30*time.Second, func(p *v1.Pod) (bool, string) {
		cs := containerStatus(t, p, "main")
		return cs.RestartCount == 1 && cs.State.Running != nil && cs.Ready, summary(p)
	})
	id := containerID(t, containerStatus(t, pod, "main"))
	pid := d.taskPid(id)

	d.stop()
	if d.err != nil {
		t.Errorf("daemon exit on SIGTERM: %v, want a clean exit", d.err)
	}
	// The pod's process is untouched while no daemon runs.
	time.Sleep(time.Second)
	if got := d.taskPid(id); got != pid {
		t.Fatalf("container task pid %d after the daemon stopped, want %d still running", got, pid)
	}

	d.start()
	adopted := d.waitRunning("default", "survivor")
	cs := containerStatus(t, adopted, "main")
	if adopted.UID != pod.UID {
		t.Errorf("pod UID %s after the daemon restart, want %s", adopted.UID, pod.UID)
	}
	if got := containerID(t, cs); got != id || cs.RestartCount != 1 {
		t.Errorf("after the daemon restart: container %s restarts %d, want the adopted %s with restarts 1", got, cs.RestartCount, id)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 137 {
		t.Errorf("lastState after the daemon restart = %+v, want the exit 137 kept", cs.LastTerminationState)
	}
	// Give a wrongly restarting daemon the time to do it, then look again.
	time.Sleep(2 * time.Second)
	if got := d.taskPid(id); got != pid {
		t.Errorf("container pid %d after adoption, want %d (not restarted)", got, pid)
	}
}
