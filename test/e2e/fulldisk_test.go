package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// fill writes zeros into path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for i := 0; i < 1<<16; i++ { // bounded: 4 GiB at most
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
	t.Fatalf("%s never filled up", path)
}

// TestFullStateDirIsAnError: with the state directory's filesystem full, a
// new pod does not start, an event says why, the daemon stays up and the
// running pods are untouched; once space is free the pod starts, and no
// pod file was left half-written.
func TestFullStateDirIsAnError(t *testing.T) {
	d := newDaemon(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0711", "tmpfs", d.stateDir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs on the state dir: %v: %s", err, out)
	}
	// d.cleanup unmounts everything under the daemon's dir, this too.
	d.start()
	d.writeManifest("before.yaml", sleeper("before", "1"))
	before := d.waitRunning("default", "before")
	beforeID := containerID(t, containerStatus(t, before, "main"))

	filler := filepath.Join(d.stateDir, "filler")
	fill(t, filler)
	d.writeManifest("late.yaml", sleeper("late", "1"))
	var ev *v1.Event
	d.waitFor(60*time.Second, "an event saying the disk is full", func() (bool, string) {
		evs := podEvents(t, d, "default", "late")
		for i, e := range evs {
			if e.Type == v1.EventTypeWarning && strings.Contains(e.Message, "no space left on device") {
				ev = &evs[i]
				return true, ""
			}
		}
		return false, eventList(evs)
	})
	t.Logf("event while full: %s %s", ev.Reason, ev.Message)
	if p, err := d.getPod("default", "late"); err == nil && p.Status.Phase == v1.PodRunning {
		t.Errorf("pod running although its state could not be written: %s", summary(p))
	}
	if got := d.taskPid(beforeID); got == 0 {
		t.Errorf("the running pod's container is gone while the disk was full")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	late := d.waitPod("default", "late", 90*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready, summary(p)
	})
	// The pod's files were written whole once there was room.
	for _, name := range []string{"etc-hosts", "etc-hostname", "resolv.conf"} {
		path := filepath.Join(d.stateDir, "pods", string(late.UID), name)
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Errorf("pod file %s empty or unreadable after the disk was full: %v", path, err)
		}
	}
	if got := d.taskPid(beforeID); got == 0 {
		t.Errorf("the first pod's container is gone")
	}
}
