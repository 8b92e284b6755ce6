package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestContainerdRestartUnderRunningPods restarts containerd (its own, so
// no other test notices) under a running pod: the pod survives untouched,
// the daemon re-subscribes to events and still restarts a container that
// crashes afterwards, and nothing is duplicated.
func TestContainerdRestartUnderRunningPods(t *testing.T) {
	t.Parallel()
	e := requireEnv(t)
	dir := filepath.Join(e.dir, "ctrd-restart")
	c, err := startContainerd(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the daemon's own cleanup, so it runs after it.
	t.Cleanup(func() { c.stop() })

	d := startDaemon(t, "--containerd-address", c.addr)
	if _, err := c.ctr(d.ns, "images", "import", e.busyboxArchive); err != nil {
		t.Fatal(err)
	}
	taskPid := func(id string) uint32 {
		tasks, err := c.tasks(d.ns)
		if err != nil {
			t.Fatal(err)
		}
		return tasks[id]
	}
	d.writeManifest("steady.yaml", sleeper("steady", "1"))
	pod := d.waitRunning("default", "steady")
	id := containerID(t, containerStatus(t, pod, "main"))
	pid := taskPid(id)
	if pid == 0 {
		t.Fatalf("no task for %s", id)
	}

	// containerd goes and comes back; the shims (and the pod) stay.
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("containerd did not stop")
	}
	c2, err := startContainerd(dir)
	if err != nil {
		t.Fatal(err)
	}
	c = c2
	waitFor(t, 60*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := d.client.Healthz(ctx)
		return err == nil, fmt.Sprint("healthz: ", err)
	})
	if got := taskPid(id); got != pid {
		t.Fatalf("container task pid %d after the containerd restart, want %d", got, pid)
	}
	// Exits after the restart still reach the daemon.
	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pod = d.waitPod("default", "steady", 60*time.Second, func(p *v1.Pod) (bool, string) {
		cs := containerStatus(t, p, "main")
		return cs.RestartCount == 1 && cs.State.Running != nil, summary(p)
	})
	time.Sleep(2 * time.Second)
	cs, err := c.containers(d.ns, map[string]string{"io.minikubelet.pod.uid": string(pod.UID)})
	if err != nil {
		t.Fatal(err)
	}
	var sandboxes, attempts int
	for _, o := range cs {
		switch o.Labels["io.minikubelet.kind"] {
		case "sandbox":
			sandboxes++
		case "container":
			attempts++
		}
	}
	if sandboxes != 1 || attempts != 2 {
		t.Errorf("%d sandboxes and %d container attempts after the restart, want 1 and 2 (current and previous)", sandboxes, attempts)
	}
}
