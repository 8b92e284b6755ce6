package e2e

import (
	"os"
	"testing"
	"time"
)

// TestUnreadableManifestDirAtStartKeepsPods: a daemon that starts while
// its manifest directory cannot be read (a symlink loop, ELOOP, as a bad
// deploy leaves it) must leave every running pod alone, say why on
// /healthz, keep retrying, and adopt the pods unchanged once the
// directory is readable again. Before, its first sync saw no pods and
// terminated every one of them.
func TestUnreadableManifestDirAtStartKeepsPods(t *testing.T) {
	d := startDaemon(t, "--rescan-period", "1s")
	d.writeManifest("keeper.yaml", sleeper("keeper", "1"))
	pod := d.waitRunning("default", "keeper")
	id := containerID(t, containerStatus(t, pod, "main"))
	pid := d.taskPid(id)

	d.stop()
	real := d.manifestDir + ".real"
	if err := os.Rename(d.manifestDir, real); err != nil {
		t.Fatal(err)
	}
	// A link to itself: every path through it is ELOOP.
	if err := os.Symlink(d.manifestDir, d.manifestDir); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		if err := os.Remove(d.manifestDir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(real, d.manifestDir); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(restore) // before d.cleanup, which empties the directory

	d.launch()
	d.wait503("manifest directory " + d.manifestDir + ": too many levels of symbolic links")
	// Several rescans of the unreadable directory: the pod is untouched.
	time.Sleep(3 * time.Second)
	if got := d.taskPid(id); got != pid {
		t.Fatalf("container pid %d while the manifest directory was unreadable, want %d still running", got, pid)
	}

	restore()
	d.waitHealthy()
	adopted := d.waitRunning("default", "keeper")
	cs := containerStatus(t, adopted, "main")
	if got := containerID(t, cs); got != id || cs.RestartCount != 0 || adopted.UID != pod.UID {
		t.Errorf("after the directory came back: uid %s container %s restarts %d, want uid %s, the adopted %s, 0 restarts",
			adopted.UID, got, cs.RestartCount, pod.UID, id)
	}
	if got := d.taskPid(id); got != pid {
		t.Errorf("container pid %d after adoption, want %d (not restarted)", got, pid)
	}
}
