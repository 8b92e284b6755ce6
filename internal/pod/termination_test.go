package pod

import (
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// dirSandboxes keeps pod directories under a real directory.
type dirSandboxes struct {
	fakeSandboxes
	root string
}

func (d *dirSandboxes) PodDir(uid string) string { return filepath.Join(d.root, "pods", uid) }

// TestTerminationLogModes: the termination-message file stays writable by
// any container user (0666), but its directory is the daemon's alone, so
// no other host user can read or forge a message, even where an older
// daemon made the directory 0755.
func TestTerminationLogModes(t *testing.T) {
	for _, existing := range []bool{false, true} {
		sb := &dirSandboxes{root: t.TempDir()}
		w := &worker{m: &Manager{o: Options{Sandboxes: sb}}, pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}}
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
