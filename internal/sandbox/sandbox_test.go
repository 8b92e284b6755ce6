package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPreparePodDirModes: pods/ and pods/<uid> are the daemon's alone
// (0700), also when an older daemon made them 0755; the files containers
// mount stay readable (0644) for the bind mounts.
func TestPreparePodDirModes(t *testing.T) {
	for _, existing := range []bool{false, true} {
		state := t.TempDir()
		m := &Manager{StateDir: state, HostResolvConf: filepath.Join(state, "no-resolv.conf")}
		if existing {
			if err := os.MkdirAll(m.PodDir("u1"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(state, "pods"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// hostIPC: no /dev/shm of its own to mount, so no root needed.
		pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"}, Spec: v1.PodSpec{HostIPC: true}}
		p, err := m.Prepare(pod, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			path string
			want os.FileMode
		}{{filepath.Join(state, "pods"), PrivateDirMode}, {p.Dir, PrivateDirMode}, {p.Hosts, 0o644}} {
			st, err := os.Stat(f.path)
			if err != nil {
				t.Errorf("existing %v: %v", existing, err)
			} else if st.Mode().Perm() != f.want {
				t.Errorf("existing %v: %s has mode %v, want %v", existing, f.path, st.Mode().Perm(), f.want)
			}
		}
	}
}
