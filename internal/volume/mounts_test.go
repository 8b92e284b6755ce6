package volume

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minikubelet/minikubelet/internal/spec"
)

// mountsPod has an emptyDir, two hostPaths in host and a downwardAPI
// volume, set up under podDir.
func mountsPod(t *testing.T, podDir, host string) *v1.Pod {
	t.Helper()
	p := testPod(
		v1.Volume{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		v1.Volume{Name: "dir", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: host, Type: ptr(v1.HostPathDirectory)}}},
		v1.Volume{Name: "file", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: filepath.Join(host, "f"), Type: ptr(v1.HostPathFileOrCreate)}}},
		v1.Volume{Name: "missing", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: filepath.Join(host, "nope"), Type: ptr(v1.HostPathDirectory)}}},
		v1.Volume{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
		v1.Volume{Name: "limits", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
			{Path: "cpu", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.cpu"}}}}}},
	)
	if err := Setup(p, podDir); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContainerMounts(t *testing.T) {
	podDir, host := t.TempDir(), t.TempDir()
	p := mountsPod(t, podDir, host)
	realHost, _ := filepath.EvalSymlinks(host)
	c := &v1.Container{Name: "c", VolumeMounts: []v1.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "dir", MountPath: "/host", ReadOnly: true, RecursiveReadOnly: ptr(v1.RecursiveReadOnlyEnabled)},
		{Name: "file", MountPath: "/etc/app.conf", MountPropagation: ptr(v1.MountPropagationNone)},
		{Name: "info", MountPath: "/info"},
	}}
	got, err := ContainerMounts(p, c, podDir)
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.Mount{
		{Volume: "scratch", Destination: "/scratch", Source: EmptyDirPath(podDir, "scratch"), Propagation: v1.MountPropagationNone},
		{Volume: "dir", Destination: "/host", Source: realHost, ReadOnly: true, RecursiveReadOnly: true, Propagation: v1.MountPropagationNone},
		{Volume: "file", Destination: "/etc/app.conf", Source: filepath.Join(realHost, "f"), Propagation: v1.MountPropagationNone},
		{Volume: "info", Destination: "/info", Source: DownwardAPIPath(podDir, "info"), ReadOnly: true, Propagation: v1.MountPropagationNone},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mounts\n%+v\nwant\n%+v", got, want)
	}
	if fi, err := os.Stat(filepath.Join(host, "f")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("FileOrCreate did not make the file: %v", err)
	}
}

func TestContainerMountsErrors(t *testing.T) {
	podDir, host := t.TempDir(), t.TempDir()
	p := mountsPod(t, podDir, host)
	if err := os.Symlink("/", filepath.Join(EmptyDirPath(podDir, "scratch"), "escape")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mount   v1.VolumeMount
		wantErr string
	}{
		{"hostPath type check", v1.VolumeMount{Name: "missing", MountPath: "/m"},
			`volume "missing": hostPath type check failed: ` + filepath.Join(host, "nope") + " is not a directory (it does not exist)"},
		{"unknown volume", v1.VolumeMount{Name: "ghost", MountPath: "/g"}, `volumeMount "ghost": no volume of that name`},
		{"subPath through a link to /", v1.VolumeMount{Name: "scratch", MountPath: "/s", SubPath: "escape/etc"}, "outside the volume"},
		{"subPath with ..", v1.VolumeMount{Name: "scratch", MountPath: "/s", SubPath: "../../x"}, "must not contain '..'"},
		{"subPathExpr with a missing variable", v1.VolumeMount{Name: "scratch", MountPath: "/s", SubPathExpr: "$(NOPE)/x"}, "missing value for NOPE"},
		{"subPathExpr expanding to ..", v1.VolumeMount{Name: "scratch", MountPath: "/s", SubPathExpr: "$(UP)/x"}, "must not contain '..'"},
		{"subPath missing in a read-only volume", v1.VolumeMount{Name: "info", MountPath: "/s", SubPath: "other"}, "does not exist in the volume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "UP", Value: ".."}}, VolumeMounts: []v1.VolumeMount{tt.mount}}
			_, err := ContainerMounts(p, c, podDir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestContainerMountsSubPath(t *testing.T) {
	needRoot(t)
	podDir, host := t.TempDir(), t.TempDir()
	p := mountsPod(t, podDir, host)
	t.Cleanup(func() { _ = Teardown(podDir) })
	scratch := EmptyDirPath(podDir, "scratch")
	if err := os.MkdirAll(filepath.Join(scratch, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "a", "in-a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		VolumeMounts: []v1.VolumeMount{
			{Name: "scratch", MountPath: "/a", SubPath: "a"},
			{Name: "scratch", MountPath: "/new", SubPathExpr: "per-pod/$(POD)"},
			{Name: "info", MountPath: "/name", SubPath: "name"},
		}}
	// Twice: a restarted container replaces its binds, never stacks them.
	var got []spec.Mount
	for range 2 {
		var err error
		if got, err = ContainerMounts(p, c, podDir); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range got {
		if want := subPathTarget(podDir, m.Volume, "c", i); m.Source != want {
			t.Errorf("mount %d from %s, want the bind at %s", i, m.Source, want)
		}
		if n := countMounts(t, m.Source); n != 1 {
			t.Errorf("%d mounts at %s, want 1", n, m.Source)
		}
	}
	if _, err := os.Stat(filepath.Join(got[0].Source, "in-a")); err != nil {
		t.Errorf("subPath a does not show the sub-directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(scratch, "per-pod", "web")); err != nil || !fi.IsDir() {
		t.Errorf("subPathExpr directory not made: %v", err)
	}
	if b, err := os.ReadFile(got[2].Source); err != nil || string(b) != "web" {
		t.Errorf("file subPath reads %q, %v", b, err)
	}
	if err := Teardown(podDir); err != nil {
		t.Fatal(err)
	}
	if n := countMounts(t, podDir); n != 0 {
		t.Fatalf("%d mounts left after Teardown", n)
	}
}

func TestRecursiveReadOnly(t *testing.T) {
	old := kernelHasMountSetattr
	t.Cleanup(func() { kernelHasMountSetattr = old })
	for _, tt := range []struct {
		mode     *v1.RecursiveReadOnlyMode
		readOnly bool
		kernel   bool
		want     bool
	}{
		{nil, true, true, false},
		{ptr(v1.RecursiveReadOnlyDisabled), true, true, false},
		{ptr(v1.RecursiveReadOnlyEnabled), true, false, true},
		{ptr(v1.RecursiveReadOnlyEnabled), false, true, false},
		{ptr(v1.RecursiveReadOnlyIfPossible), true, true, true},
		{ptr(v1.RecursiveReadOnlyIfPossible), true, false, false},
	} {
		kernelHasMountSetattr = func() bool { return tt.kernel }
		if got := recursiveReadOnly(v1.VolumeMount{ReadOnly: tt.readOnly, RecursiveReadOnly: tt.mode}); got != tt.want {
			t.Errorf("mode %v readOnly %v kernel %v: %v, want %v", tt.mode, tt.readOnly, tt.kernel, got, tt.want)
		}
	}
}

func TestDownwardAPIResourceFieldItem(t *testing.T) {
	dir := t.TempDir()
	p := &v1.Pod{}
	p.Spec.Containers = []v1.Container{{Name: "app", Resources: v1.ResourceRequirements{
		Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")},
	}}}
	items := []v1.DownwardAPIVolumeFile{{Path: "mem", ResourceFieldRef: &v1.ResourceFieldSelector{
		ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}}
	if err := writeDownwardAPI(dir, p, items, 0o644, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "mem"))
	if err != nil || string(b) != "64" {
		t.Fatalf("mem file %q %v, want 64", b, err)
	}
}
