package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeCgroupFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOOMKilledFromTheCgroup(t *testing.T) {
	const rel = "/minikubelet/burstable/podu1/c1"
	v2 := t.TempDir()
	writeCgroupFile(t, filepath.Join(v2, "cgroup.controllers"), "cpu memory pids\n")
	writeCgroupFile(t, filepath.Join(v2, rel, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n")
	v1 := t.TempDir()
	writeCgroupFile(t, filepath.Join(v1, "memory", rel, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	v1none := t.TempDir()
	writeCgroupFile(t, filepath.Join(v1none, "memory", rel, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
	old := t.TempDir() // a kernel before 4.13: no oom_kill line
	writeCgroupFile(t, filepath.Join(old, "memory", rel, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\n")

	info := func(cgroupsPath string) containers.Container {
		s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: cgroupsPath}}
		a, err := typeurl.MarshalAnyToProto(s)
		if err != nil {
			t.Fatal(err)
		}
		return containers.Container{ID: "c1", Spec: a}
	}
	for _, tc := range []struct {
		name string
		root string
		info containers.Container
		want bool
	}{
		{"cgroup v2, killed", v2, info(rel), true},
		{"cgroup v1, killed", v1, info(rel), true},
		{"cgroup v1, not killed", v1none, info(rel), false},
		{"cgroup v1, no counter", old, info(rel), false},
		{"cgroup gone", v2, info("/minikubelet/other"), false},
		{"no cgroup path", v2, info(""), false},
		{"no spec", v2, containers.Container{ID: "c1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oomKilled(tc.root, tc.info)
			if err != nil || got != tc.want {
				t.Errorf("oomKilled = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
