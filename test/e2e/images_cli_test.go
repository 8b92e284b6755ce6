package e2e

import (
	"strings"
	"testing"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// TestImagesCommands: `images import` a gzip'd archive, `images ls` shows
// it and which pods use what, `images rm` refuses an image a pod runs and
// removes an unused one.
func TestImagesCommands(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("user.yaml", minimalPod("image-user"))
	d.waitRunning("default", "image-user")

	archive := d.writeBusyboxImage("localhost/cli/spare:1", ocibuild.Config{Cmd: []string{"sh"}})
	if out := d.mustCLI("images", "import", archive); !strings.Contains(out, "imported localhost/cli/spare:1") {
		t.Fatalf("images import:\n%s", out)
	}
	ls := d.mustCLI("images", "ls")
	for _, want := range []string{"IMAGE", "localhost/cli/spare:1", busyboxRef, "default/image-user", "sandbox"} {
		if !strings.Contains(ls, want) {
			t.Errorf("images ls lacks %q:\n%s", want, ls)
		}
	}
	if _, stderr, code := d.cli("images", "rm", busyboxRef); code == 0 || !strings.Contains(stderr, "in use by [default/image-user]") {
		t.Errorf("removing an image in use: exit %d, stderr:\n%s", code, stderr)
	}
	if out := d.mustCLI("images", "rm", "localhost/cli/spare:1"); !strings.Contains(out, "removed") {
		t.Errorf("images rm:\n%s", out)
	}
	if ls := d.mustCLI("images", "ls"); strings.Contains(ls, "localhost/cli/spare:1") {
		t.Errorf("removed image still listed:\n%s", ls)
	}
	if _, stderr, code := d.cli("images", "rm", "localhost/cli/never:1"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("removing an unknown image: exit %d, stderr:\n%s", code, stderr)
	}
}
