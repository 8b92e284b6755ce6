package spec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestArgs(t *testing.T) {
	img := ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"default", "$(X)"}}
	env := []string{"X=1"}
	tests := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image only", nil, nil, []string{"/entry", "default", "$(X)"}},
		{"args replace cmd", nil, []string{"a", "$(X)"}, []string{"/entry", "a", "1"}},
		{"command drops cmd", []string{"sh"}, nil, []string{"sh"}},
		{"command and args", []string{"sh", "-c"}, []string{"echo $(X) $$(X) $(Y)"}, []string{"sh", "-c", "echo 1 $(X) $(Y)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Args(&v1.Container{Command: tt.command, Args: tt.args}, img, env)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func testPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-1"},
		Spec:       v1.PodSpec{NodeName: "node1"},
	}
}

func TestEnv(t *testing.T) {
	c := Container{
		Pod: testPod(),
		Container: &v1.Container{Name: "c", Env: []v1.EnvVar{
			{Name: "PATH", Value: "/bin"},
			{Name: "A", Value: "x"},
			{Name: "B", Value: "$(A)-y"},
			{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		}},
		Image: ImageConfig{Env: []string{"PATH=/usr/bin", "LANG=C"}},
		PodIP: "10.1.0.5",
	}
	got, err := Env(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin", "LANG=C", "A=x", "B=x-y", "POD=web", "NODE=node1", "IP=10.1.0.5", "HOSTNAME=web"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func nsMap(ns []specs.LinuxNamespace) map[specs.LinuxNamespaceType]string {
	m := map[specs.LinuxNamespaceType]string{}
	for _, n := range ns {
		m[n.Type] = n.Path
	}
	return m
}

func TestContainerNamespaces(t *testing.T) {
	share := true
	tests := []struct {
		name   string
		mutate func(*v1.PodSpec)
		want   map[specs.LinuxNamespaceType]string
	}{
		{"default", func(*v1.PodSpec) {}, map[specs.LinuxNamespaceType]string{
			specs.MountNamespace: "", specs.NetworkNamespace: "/netns/sb", specs.UTSNamespace: "/proc/42/ns/uts",
			specs.IPCNamespace: "/proc/42/ns/ipc", specs.PIDNamespace: ""}},
		{"shared pid", func(s *v1.PodSpec) { s.ShareProcessNamespace = &share }, map[specs.LinuxNamespaceType]string{
			specs.MountNamespace: "", specs.NetworkNamespace: "/netns/sb", specs.UTSNamespace: "/proc/42/ns/uts",
			specs.IPCNamespace: "/proc/42/ns/ipc", specs.PIDNamespace: "/proc/42/ns/pid"}},
		{"host everything", func(s *v1.PodSpec) { s.HostNetwork, s.HostIPC, s.HostPID = true, true, true },
			map[specs.LinuxNamespaceType]string{specs.MountNamespace: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPod()
			tt.mutate(&p.Spec)
			s, err := ContainerSpec(Container{ID: "c1", Pod: p, Container: &v1.Container{Name: "c", Command: []string{"sh"}},
				SandboxID: "sb", SandboxPid: 42, NetNSPath: "/netns/sb", ShmPath: "/pod/shm", HostsPath: "/pod/hosts"})
			if err != nil {
				t.Fatal(err)
			}
			if got := nsMap(s.Linux.Namespaces); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("namespaces %v, want %v", got, tt.want)
			}
			if s.Annotations[GroupAnnotation] != "sb" {
				t.Error("container not grouped with its sandbox's shim")
			}
			if s.Linux.CgroupsPath != "/minikubelet/besteffort/poduid-1/c1" {
				t.Errorf("cgroup %s", s.Linux.CgroupsPath)
			}
			var shm, hosts int
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" {
					shm++
					if m.Source != "/pod/shm" {
						t.Errorf("/dev/shm from %s", m.Source)
					}
				}
				if m.Destination == "/etc/hosts" {
					hosts++
				}
			}
			if shm != 1 || hosts != 1 {
				t.Errorf("mounts: %d /dev/shm, %d /etc/hosts", shm, hosts)
			}
		})
	}
}

func TestSandboxSpec(t *testing.T) {
	s, err := SandboxSpec(Sandbox{ID: "sb", PodUID: "u", Hostname: "web", NetNSPath: "/netns/sb"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[specs.LinuxNamespaceType]string{specs.MountNamespace: "", specs.NetworkNamespace: "/netns/sb",
		specs.UTSNamespace: "", specs.IPCNamespace: "", specs.PIDNamespace: ""}
	if got := nsMap(s.Linux.Namespaces); !reflect.DeepEqual(got, want) {
		t.Fatalf("namespaces %v", got)
	}
	if s.Hostname != "web" || !s.Root.Readonly || s.Process.User.UID != 65535 || s.Process.OOMScoreAdj != nil {
		t.Fatalf("spec %+v", s)
	}
	hs, _ := SandboxSpec(Sandbox{ID: "sb", PodUID: "u", Hostname: "web", HostNetwork: true})
	if hs.Hostname != "" {
		t.Error("a host-network sandbox cannot set a hostname")
	}
}

func TestResources(t *testing.T) {
	r := Resources(v1.ResourceRequirements{
		Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("512Mi")},
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")},
	})
	if *r.CPU.Shares != 102 || *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || *r.Memory.Limit != 512<<20 {
		t.Fatalf("resources %+v %+v", *r.CPU, *r.Memory)
	}
}

func TestHostnameTruncated(t *testing.T) {
	p := testPod()
	p.Name = strings.Repeat("a", 62) + "-b"
	if h := Hostname(p); h != strings.Repeat("a", 62) {
		t.Fatalf("hostname %q", h)
	}
}

func TestBestEffortShares(t *testing.T) {
	if r := Resources(v1.ResourceRequirements{}); r.CPU == nil || *r.CPU.Shares != 2 {
		t.Fatalf("BestEffort shares %+v, want 2", r.CPU)
	}
}

func TestResourceFieldRefEnv(t *testing.T) {
	nodeCapacity = func() (int64, int64) { return 2000, 8 << 30 }
	p := testPod()
	c := &v1.Container{Name: "c", Resources: v1.ResourceRequirements{
		Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("512Mi")},
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
	}}
	p.Spec.Containers = []v1.Container{*c, {Name: "bare"}}
	ref := func(res, div, ctr string) *v1.EnvVarSource {
		s := &v1.ResourceFieldSelector{Resource: res, ContainerName: ctr}
		if div != "" {
			s.Divisor = resource.MustParse(div)
		}
		return &v1.EnvVarSource{ResourceFieldRef: s}
	}
	c.Env = []v1.EnvVar{
		{Name: "CPU_LIMIT", ValueFrom: ref("limits.cpu", "", "")},
		{Name: "CPU_LIMIT_M", ValueFrom: ref("limits.cpu", "1m", "")},
		{Name: "CPU_REQ_M", ValueFrom: ref("requests.cpu", "1m", "")},
		{Name: "MEM_MI", ValueFrom: ref("limits.memory", "1Mi", "")},
		{Name: "BARE_CPU", ValueFrom: ref("limits.cpu", "", "bare")},
		{Name: "BARE_MEM_REQ", ValueFrom: ref("requests.memory", "", "bare")},
	}
	env, err := Env(Container{Pod: p, Container: c})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CPU_LIMIT=1", "CPU_LIMIT_M=500", "CPU_REQ_M=250", "MEM_MI=512", "BARE_CPU=2", "BARE_MEM_REQ=0"}
	for _, w := range want {
		found := false
		for _, e := range env {
			found = found || e == w
		}
		if !found {
			t.Errorf("missing %s in %v", w, env)
		}
	}
}

// TestWorkingDir: the container's workingDir, else the image's, else /.
func TestWorkingDir(t *testing.T) {
	for _, tt := range []struct{ ctr, img, want string }{
		{"/srv", "/app", "/srv"},
		{"", "/app", "/app"},
		{"", "", "/"},
	} {
		p := testPod()
		c := &v1.Container{Name: "c", Command: []string{"true"}, WorkingDir: tt.ctr}
		p.Spec.Containers = []v1.Container{*c}
		s, err := ContainerSpec(Container{ID: "id", Pod: p, Container: c, Image: ImageConfig{WorkingDir: tt.img}})
		if err != nil {
			t.Fatal(err)
		}
		if s.Process.Cwd != tt.want {
			t.Errorf("workingDir %q, image %q: cwd %q, want %q", tt.ctr, tt.img, s.Process.Cwd, tt.want)
		}
	}
}
