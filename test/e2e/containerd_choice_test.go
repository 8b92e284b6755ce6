package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikubelet/minikubelet/internal/api"
)

// wait503 waits until /healthz answers 503 with a reason containing want.
func (d *daemon) wait503(want string) {
	d.t.Helper()
	d.waitFor(30*time.Second, "/healthz 503: "+want, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := d.client.Healthz(ctx)
		var se *api.StatusError
		if !errors.As(err, &se) || se.Status.Code != 503 {
			return false, "healthz: " + errString(err)
		}
		return strings.Contains(err.Error(), want), err.Error()
	})
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// noEmbedded fails the test when the daemon started an embedded containerd.
func (d *daemon) noEmbedded() {
	d.t.Helper()
	if log, _ := os.ReadFile(d.logPath); strings.Contains(string(log), "starting (or reusing) the embedded containerd") {
		d.t.Errorf("the daemon started an embedded containerd:\n%s", tailFile(d.logPath, 40))
	}
	if _, err := os.Lstat(filepath.Join(d.stateDir, "containerd", "containerd.sock")); err == nil {
		d.t.Errorf("an embedded containerd socket exists under the state dir")
	}
}

// TestRecordedContainerdDownIsWaitedFor (review #5): a daemon restarted
// while the containerd holding its pods is stopped (its socket gone, as
// after `systemctl stop containerd`) waits for that containerd instead of
// starting an embedded one, which would run every pod a second time; once
// containerd is back, the pods are adopted unchanged.
func TestRecordedContainerdDownIsWaitedFor(t *testing.T) {
	e := requireEnv(t)
	link := filepath.Join(t.TempDir(), "c.sock")
	if err := os.Symlink(e.containerd.addr, link); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--containerd-address", link)
	d.writeManifest("keeper.yaml", sleeper("keeper", "1"))
	pod := d.waitRunning("default", "keeper")
	id := containerID(t, containerStatus(t, pod, "main"))
	pid := d.taskPid(id)

	d.stop()
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	d.launch()
	d.wait503("does not answer; this node's pods run there")
	d.noEmbedded()

	if err := os.Symlink(e.containerd.addr, link); err != nil {
		t.Fatal(err)
	}
	d.waitHealthy()
	adopted := d.waitRunning("default", "keeper")
	if got := containerID(t, containerStatus(t, adopted, "main")); got != id || d.taskPid(id) != pid {
		t.Errorf("after containerd came back: container %s pid %d, want the adopted %s with pid %d", got, d.taskPid(id), id, pid)
	}
	d.noEmbedded()
}

// TestStaleContainerdSocketIsWaitedFor: on a node that never ran pods, a
// socket file that exists at the containerd address but does not answer
// (containerd starting, or killed) is waited for, not replaced by an
// embedded containerd.
func TestStaleContainerdSocketIsWaitedFor(t *testing.T) {
	e := requireEnv(t)
	addr := filepath.Join(t.TempDir(), "c.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the file stays; connecting to it is refused
	d := newDaemon(t, "--containerd-address", addr)
	d.launch()
	d.wait503("a socket exists at containerd address " + addr)
	d.noEmbedded()

	if err := os.Remove(addr); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e.containerd.addr, addr); err != nil {
		t.Fatal(err)
	}
	d.waitHealthy()
	d.noEmbedded()
}
