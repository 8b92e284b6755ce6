package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCgroupMount points cgroupMount at a temporary tree holding the
// given files, for the duration of the test.
func fakeCgroupMount(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := cgroupMount
	cgroupMount = root
	t.Cleanup(func() { cgroupMount = old })
	return root
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSetPodPidsMaxV2(t *testing.T) {
	root := fakeCgroupMount(t, map[string]string{
		"cgroup.controllers":                           "cpu memory pids",
		"cgroup.subtree_control":                       "cpu memory",
		"minikubelet/cgroup.subtree_control":           "memory pids",
		"minikubelet/burstable/cgroup.subtree_control": "",
	})
	if err := setPodPidsMax("/minikubelet/burstable/podu1", 42); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "minikubelet/burstable/podu1/pids.max")); got != "42" {
		t.Errorf("pids.max = %q, want 42", got)
	}
	// Enabled where it was off, left alone where it was on (a real
	// cgroup.subtree_control takes "+pids" and shows the whole set).
	for dir, want := range map[string]string{"": "+pids", "minikubelet": "memory pids", "minikubelet/burstable": "+pids"} {
		if got := readFile(t, filepath.Join(root, dir, "cgroup.subtree_control")); got != want {
			t.Errorf("%s/cgroup.subtree_control = %q, want %q", dir, got, want)
		}
	}
}

func TestSetPodPidsMaxV1(t *testing.T) {
	root := fakeCgroupMount(t, map[string]string{"pids/tasks": ""})
	if err := setPodPidsMax("/minikubelet/podu1", 7); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "pids/minikubelet/podu1/pids.max")); got != "7" {
		t.Errorf("pids.max = %q, want 7", got)
	}
}

func TestSetPodPidsMaxNoHierarchy(t *testing.T) {
	// A cgroup v2 tree whose directories lack the control files (not a
	// cgroupfs): a clear error, not a silent success.
	fakeCgroupMount(t, map[string]string{"cgroup.controllers": "pids", "cgroup.subtree_control": "pids"})
	err := setPodPidsMax("/minikubelet/podu1", 7)
	if err == nil || !strings.Contains(err.Error(), "cgroup.subtree_control") {
		t.Fatalf("err = %v, want one naming cgroup.subtree_control", err)
	}
}
