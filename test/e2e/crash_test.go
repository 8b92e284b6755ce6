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

// TestSandboxDiedRecreated kills the pod's pause process. As the kubelet
// does, the daemon reports SandboxChanged, stops the old container through
// its preStop hook and grace period (its own namespaces outlive the pause
// process), makes a new sandbox and starts the container again in it.
func TestSandboxDiedRecreated(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("sb.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: sandbox-dies
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "echo prestop-ran=$(cat /data/prestop 2>/dev/null || echo no); trap 'exit 0' TERM; sleep 3600 & wait"]
    volumeMounts: [{name: data, mountPath: /data}]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo yes > /data/prestop"]}
`)
	pod := d.waitRunning("default", "sandbox-dies")
	oldSandbox := d.sandboxPid(string(pod.UID))
	if err := syscall.Kill(oldSandbox, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pod = d.waitPod("default", "sandbox-dies", 60*time.Second, func(p *v1.Pod) (bool, string) {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Running != nil, summary(p)
	})
	if pid := d.sandboxPid(string(pod.UID)); pid == oldSandbox {
		t.Errorf("sandbox pid %d did not change", pid)
	}
	evs := podEvents(t, d, "default", "sandbox-dies")
	if findEvent(evs, v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.") == nil {
		t.Errorf("no SandboxChanged event; events:%s", eventList(evs))
	}
	if findEvent(evs, v1.EventTypeNormal, "Killing", "Stopping container main") == nil {
		t.Errorf("no Killing event for the old container; events:%s", eventList(evs))
	}
	// The new attempt reads what the old one's preStop hook wrote: the hook
	// ran in the dead sandbox's pod, and the emptyDir survived.
	d.waitLogContains("sandbox-dies", "main", "prestop-ran=yes")
	if got := containerStatus(t, pod, "main").LastTerminationState.Terminated; got == nil || got.ExitCode != 0 {
		t.Errorf("last state %+v, want terminated with exit 0 (SIGTERM honoured)", got)
	}
}
