package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

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

// TestRemovePodDirStaysInside: a pod directory with a bind mount of an
// outside directory under it loses the mount, not the outside files; a
// pod directory that is a symlink is removed as a link, never followed.
func TestRemovePodDirStaysInside(t *testing.T) {
	state := t.TempDir()
	m := &Manager{StateDir: state}
	outside := t.TempDir()
	keep := filepath.Join(outside, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(state, "pods"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, m.PodDir("link")); err != nil {
		t.Fatal(err)
	}
	removeKeeping := func(uid string) {
		t.Helper()
		if err := m.RemovePodDir(uid); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(m.PodDir(uid)); !os.IsNotExist(err) {
			t.Errorf("pod dir %s left: %v", uid, err)
		}
		if _, err := os.Stat(keep); err != nil {
			t.Fatalf("removal of pod dir %s reached outside: %v", uid, err)
		}
	}
	removeKeeping("link")

	if os.Geteuid() != 0 {
		t.Skip("the bind-mount case needs root (hack/test.sh runs it as root)")
	}
	target := filepath.Join(m.PodDir("u1"), "volume-subpaths", "v", "c", "0")
	if err := os.MkdirAll(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(outside, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	removeKeeping("u1")
}
