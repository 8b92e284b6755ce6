package pod

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/sandbox"
)

// dirSandboxes keeps pod directories under a real directory.
type dirSandboxes struct {
	*fakeSandboxes
	root string
}

func (d *dirSandboxes) PodDir(uid string) string { return filepath.Join(d.root, "pods", uid) }
func (d *dirSandboxes) PodPaths(uid string) sandbox.Paths {
	return sandbox.Paths{Dir: d.PodDir(uid)}
}

// TestFailedCreateLeavesNoTerminationFile: a create that fails, before the
// runtime's create (the image's users unreadable) or in it, leaves no
// termination-message file behind; each retry used to leak one. The
// attempt that is created has its file.
func TestFailedCreateLeavesNoTerminationFile(t *testing.T) {
	root := t.TempDir()
	h := newHarnessWith(t, func(f *fakeSandboxes) Sandboxes { return &dirSandboxes{fakeSandboxes: f, root: root} })
	dir := filepath.Join(root, "pods", "u60", "termination")
	// Back-off grows to minutes: step it half a minute at a time.
	stepUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; calls: %v", what, h.rt.Calls())
			}
			h.clock.Step(30 * time.Second)
			time.Sleep(10 * time.Millisecond)
		}
	}
	files := func() []string {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	p := testPod("term", "u60", v1.RestartPolicyAlways, "c")
	p.Spec.Containers[0].TerminationMessagePath = "/dev/termination-log"
	h.rt.InjectError("ImageUsers", errors.New("mount failed"))
	h.m.Sync(context.Background(), []*v1.Pod{p})
	stepUntil("retries failing in ImageUsers", func() bool { return h.rt.CountCalls("ImageUsers") >= 3 })
	h.rt.InjectError("ImageUsers", nil)
	// The sandbox runs, so every create from now on is the container's.
	creates := h.rt.CountCalls("CreateContainer")
	h.rt.InjectError("CreateContainer", errors.New("snapshot failed"))
	stepUntil("retries failing in CreateContainer", func() bool { return h.rt.CountCalls("CreateContainer") >= creates+3 })
	if got := files(); len(got) != 0 {
		t.Fatalf("after failed creates, termination files %v, want none", got)
	}
	h.rt.InjectError("CreateContainer", nil)
	stepUntil("running", func() bool { return h.phase("u60") == v1.PodRunning })
	c := h.container("u60", "c")
	if got := files(); len(got) != 1 || filepath.Join(dir, got[0]) != c.Labels[labelTerminationLog] {
		t.Fatalf("termination files %v, want the created attempt's %s", got, c.Labels[labelTerminationLog])
	}
}

// TestTerminationLogModes: the termination-message file stays writable by
// any container user (0666), but its directory is the daemon's alone, so
// no other host user can read or forge a message, even where an older
// daemon made the directory 0755.
func TestTerminationLogModes(t *testing.T) {
	for _, existing := range []bool{false, true} {
		sb := &dirSandboxes{root: t.TempDir()}
		w := &syncer{syncDeps: syncDeps{sandboxes: sb}, pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}}
		dir := filepath.Join(sb.PodDir("u1"), "termination")
		if existing {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		path, err := w.createTerminationLog(&v1.Container{Name: "c", TerminationMessagePath: "/dev/termination-log"}, "id1")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			path string
			want os.FileMode
		}{{path, 0o666}, {dir, 0o700}} {
			if got, err := permOf(f.path); err != nil || got != f.want {
				t.Errorf("existing dir %v: %s: mode %v (%v); want %v", existing, f.path, got, err, f.want)
			}
		}
	}
}

// permOf is path's permission bits.
func permOf(path string) (os.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Mode().Perm(), nil
}
