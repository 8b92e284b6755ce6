package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// TestImageGCRemovesUnusedImages runs the daemon with thresholds any disk
// is past (1 % high, 0 % low): image GC removes an unused image and keeps
// the one a pod runs and the sandbox image.
func TestImageGCRemovesUnusedImages(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--image-gc-high-threshold-percent", "1", "--image-gc-low-threshold-percent", "0", "--image-gc-period", "1s")
	d.writeManifest("user.yaml", minimalPod("gc-user"))
	d.waitRunning("default", "gc-user")
	d.mustCLI("images", "import", d.writeBusyboxImage("localhost/gc/unused:1", ocibuild.Config{Cmd: []string{"sh"}}))
	d.waitFor(30*time.Second, "the unused image collected", func() (bool, string) {
		ls := d.mustCLI("images", "ls")
		return !strings.Contains(ls, "localhost/gc/unused:1"), ls
	})
	ls := d.mustCLI("images", "ls")
	if !strings.Contains(ls, busyboxRef) || !strings.Contains(ls, "pause") {
		t.Errorf("image GC removed an image in use or the sandbox image:\n%s", ls)
	}
	if b, _ := os.ReadFile(d.logPath); !bytes.Contains(b, []byte("removed unused image")) {
		t.Errorf("no log line for the removal")
	}
}
