package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

// needRoot skips tests that mount or chown.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a tmpfs or bind, or gives files to another group")
	}
}

func testPod(vols ...v1.Volume) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1",
			Labels: map[string]string{"b": "2", "a": `say "hi"`}, Annotations: map[string]string{"note": "x"}},
		Spec: v1.PodSpec{Volumes: vols, Containers: []v1.Container{{Name: "c"}}},
	}
}

func TestDownwardValue(t *testing.T) {
	p := testPod()
	for fp, want := range map[string]string{
		"metadata.name":                "web",
		"metadata.namespace":           "ns",
		"metadata.uid":                 "u1",
		"metadata.labels":              "a=\"say \\\"hi\\\"\"\nb=\"2\"",
		"metadata.annotations":         `note="x"`,
		"metadata.labels['b']":         "2",
		"metadata.annotations['note']": "x",
		"metadata.labels['none']":      "",
	} {
		got, err := DownwardValue(p, fp)
		if err != nil || got != want {
			t.Errorf("DownwardValue(%s) = %q, %v; want %q", fp, got, err, want)
		}
	}
	if _, err := DownwardValue(p, "spec.nodeName"); err == nil {
		t.Error("spec.nodeName accepted in a volume")
	}
}

func TestMemorySize(t *testing.T) {
	mem := func(limits ...string) *v1.Pod {
		p := testPod()
		p.Spec.Containers = nil
		for _, l := range limits {
			c := v1.Container{Name: "c"}
			if l != "" {
				c.Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse(l)}
			}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		return p
	}
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	memory := func(limit *resource.Quantity) *v1.EmptyDirVolumeSource {
		return &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: limit}
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		ed   *v1.EmptyDirVolumeSource
		want int64
	}{
		{"disk", mem("64Mi"), &v1.EmptyDirVolumeSource{SizeLimit: q("1Mi")}, 0},
		{"nothing says", mem(""), memory(nil), 0},
		{"sizeLimit", mem(""), memory(q("16Mi")), 16 << 20},
		{"pod limit", mem("32Mi", "32Mi"), memory(nil), 64 << 20},
		{"one container without a limit", mem("32Mi", ""), memory(q("1Gi")), 1 << 30},
		{"sizeLimit under the pod limit", mem("64Mi"), memory(q("16Mi")), 16 << 20},
		{"pod limit under sizeLimit", mem("64Mi"), memory(q("1Gi")), 64 << 20},
	}
	for _, tt := range tests {
		if got := memorySize(tt.pod, tt.ed); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSetupDiskAndDownwardAPI(t *testing.T) {
	podDir := t.TempDir()
	p := testPod(
		v1.Volume{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		v1.Volume{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{
			DefaultMode: ptr[int32](0o600),
			Items: []v1.DownwardAPIVolumeFile{
				{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "meta/labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}, Mode: ptr[int32](0o444)},
			}}}},
		v1.Volume{Name: "proj", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
			{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "uid", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.uid"}}}}},
		}}}},
	)
	if err := Setup(p, podDir); err != nil {
		t.Fatal(err)
	}
	ed := EmptyDirPath(podDir, "scratch")
	fi, err := os.Stat(ed)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Fatalf("emptyDir %v %v, want a drwxrwxrwx directory", fi, err)
	}
	if err := os.WriteFile(filepath.Join(ed, "keep"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Idempotent, and what the pod wrote stays.
	if err := Setup(p, podDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ed, "keep")); err != nil {
		t.Fatalf("a second Setup lost the emptyDir's content: %v", err)
	}
	dw := DownwardAPIPath(podDir, "info")
	for name, want := range map[string]struct {
		content string
		mode    os.FileMode
	}{
		"name":        {"web", 0o600},
		"meta/labels": {"a=\"say \\\"hi\\\"\"\nb=\"2\"", 0o444},
	} {
		b, err := os.ReadFile(filepath.Join(dw, name))
		fi, _ := os.Stat(filepath.Join(dw, name))
		if err != nil || string(b) != want.content || fi.Mode().Perm() != want.mode {
			t.Errorf("%s: %q (%v, %v), want %q mode %v", name, b, fi.Mode(), err, want.content, want.mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(DownwardAPIPath(podDir, "proj"), "uid")); string(b) != "u1" {
		t.Errorf("projected uid %q", b)
	}
}

func TestSetupFSGroupAndMemory(t *testing.T) {
	needRoot(t)
	podDir := t.TempDir()
	limit := resource.MustParse("8Mi")
	p := testPod(
		v1.Volume{Name: "disk", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		v1.Volume{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: &limit}}},
	)
	p.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr[int64](4321)}
	if err := Setup(p, podDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Teardown(podDir) })
	for _, name := range []string{"disk", "mem"} {
		dir := EmptyDirPath(podDir, name)
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Gid != 4321 || st.Mode&0o7777 != 0o2777 {
			t.Errorf("%s: gid %d mode %o, want fsGroup 4321 and 2777", name, st.Gid, st.Mode&0o7777)
		}
	}
	mem := EmptyDirPath(podDir, "mem")
	var fs unix.Statfs_t
	if err := unix.Statfs(mem, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.TMPFS_MAGIC || fs.Blocks*uint64(fs.Bsize) != 8<<20 {
		t.Fatalf("memory emptyDir: fs type %x, %d bytes; want tmpfs of 8Mi", fs.Type, fs.Blocks*uint64(fs.Bsize))
	}
	if err := Setup(p, podDir); err != nil {
		t.Fatal(err)
	}
	if n := countMounts(t, mem); n != 1 {
		t.Fatalf("a second Setup stacked tmpfs mounts: %d at %s", n, mem)
	}
	if err := Teardown(podDir); err != nil {
		t.Fatal(err)
	}
	if n := countMounts(t, podDir); n != 0 {
		t.Fatalf("%d mounts left under the pod directory", n)
	}
}

func countMounts(t *testing.T, dir string) int {
	t.Helper()
	ms, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	return len(mountsUnder(ms, real))
}

func TestSetupRejectsHugePages(t *testing.T) {
	p := testPod(v1.Volume{Name: "h", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumHugePages}}})
	if err := Setup(p, t.TempDir()); err == nil || !strings.Contains(err.Error(), `volume "h": emptyDir medium "HugePages" is not supported`) {
		t.Fatalf("error %v", err)
	}
}
