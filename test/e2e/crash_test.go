package e2e

import (
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestDaemonKilledAdoptsPods: kill -9 the daemon (no chance to clean up)
// while pods run; a new daemon adopts them — same containers, no restart,
// the sandbox not duplicated — and still restarts a container that
// crashes afterwards.
func TestDaemonKilledAdoptsPods(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("a.yaml", sleeper("crash-a", "1"))
	d.writeManifest("b.yaml", sleeper("crash-b", "1"))
	a := d.waitRunning("default", "crash-a")
	b := d.waitRunning("default", "crash-b")
	idA := containerID(t, containerStatus(t, a, "main"))
	idB := containerID(t, containerStatus(t, b, "main"))
	pidA := d.taskPid(idA)
	sandboxes := func(uid string) int {
		n := 0
		for _, c := range d.podContainers(uid) {
			if c.Labels["io.minikubelet.kind"] == "sandbox" {
				n++
			}
		}
		return n
	}

	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	d.start()

	a = d.waitRunning("default", "crash-a")
	cs := containerStatus(t, a, "main")
	if got := containerID(t, cs); got != idA || cs.RestartCount != 0 || d.taskPid(idA) != pidA {
		t.Fatalf("after kill -9: container %s restarts %d, want %s untouched", got, cs.RestartCount, idA)
	}
	time.Sleep(2 * time.Second)
	for _, p := range []*v1.Pod{a, b} {
		if n := sandboxes(string(p.UID)); n != 1 {
			t.Errorf("pod %s has %d sandboxes after the restart, want 1", p.Name, n)
		}
	}
	// A crash after the restart is still seen and restarted.
	if err := syscall.Kill(d.taskPid(idB), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitPod("default", "crash-b", 30*time.Second, func(p *v1.Pod) (bool, string) {
		cs := containerStatus(t, p, "main")
		return cs.RestartCount == 1 && cs.State.Running != nil, summary(p)
	})
}
