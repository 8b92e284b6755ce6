package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

func secPtr[T any](v T) *T { return &v }

// fakeHost replaces the host facts privileged containers and "ALL" read.
func fakeHost(t *testing.T) {
	t.Helper()
	oldCaps, oldDevs := allCapabilities, hostDevices
	allCapabilities = func() ([]string, error) { return []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"}, nil }
	hostDevices = func() ([]specs.LinuxDevice, error) {
		return []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8}}, nil
	}
	t.Cleanup(func() { allCapabilities, hostDevices = oldCaps, oldDevs })
}

// build runs ContainerSpec for a one-container pod after mutate.
func build(t *testing.T, imageUser string, mutate func(*v1.PodSpec, *v1.Container)) (*specs.Spec, error) {
	t.Helper()
	return buildImage(t, ImageConfig{User: imageUser}, mutate)
}

// buildImage is build with a whole image config.
func buildImage(t *testing.T, img ImageConfig, mutate func(*v1.PodSpec, *v1.Container)) (*specs.Spec, error) {
	t.Helper()
	p := testPod()
	c := &v1.Container{Name: "c", Command: []string{"sh"}}
	mutate(&p.Spec, c)
	return ContainerSpec(Container{ID: "c1", Pod: p, Container: c, SandboxID: "sb", SandboxPid: 42,
		NetNSPath: "/netns/sb", Image: img})
}

// checkUser checks the spec's process user, or the error.
func checkUser(t *testing.T, s *specs.Spec, err error, want specs.User, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Process.User, want) {
		t.Fatalf("user %+v, want %+v", s.Process.User, want)
	}
}

// podSC and ctrSC make a mutate function that sets a pod's or a
// container's security context to what f fills in.
func podSC(f func(*v1.PodSecurityContext)) func(*v1.PodSpec, *v1.Container) {
	return func(s *v1.PodSpec, _ *v1.Container) {
		s.SecurityContext = &v1.PodSecurityContext{}
		f(s.SecurityContext)
	}
}

func ctrSC(f func(*v1.SecurityContext)) func(*v1.PodSpec, *v1.Container) {
	return func(_ *v1.PodSpec, c *v1.Container) { c.SecurityContext = &v1.SecurityContext{}; f(c.SecurityContext) }
}

func TestProcessUser(t *testing.T) {
	tests := []struct {
		name      string
		imageUser string
		mutate    func(*v1.PodSpec, *v1.Container)
		want      specs.User
		wantErr   string
	}{
		{"image root by default", "", func(*v1.PodSpec, *v1.Container) {}, specs.User{AdditionalGids: []uint32{0}}, ""},
		{"numeric image user", "1000", func(*v1.PodSpec, *v1.Container) {}, specs.User{UID: 1000, AdditionalGids: []uint32{0}}, ""},
		{"image user and group", "1000:2000", func(*v1.PodSpec, *v1.Container) {}, specs.User{UID: 1000, GID: 2000, AdditionalGids: []uint32{2000}}, ""},
		{"named image user without /etc/passwd", "nginx", func(*v1.PodSpec, *v1.Container) {}, specs.User{}, `image user "nginx" is not in the image's /etc/passwd (the image has none)`},
		{"runAsUser replaces a named image user", "nginx:staff", podSC(func(s *v1.PodSecurityContext) { s.RunAsUser = secPtr[int64](65534) }),
			specs.User{UID: 65534, AdditionalGids: []uint32{0}}, ""},
		{"runAsUser replaces the image's group too", "1000:2000", podSC(func(s *v1.PodSecurityContext) { s.RunAsUser = secPtr[int64](7) }),
			specs.User{UID: 7, AdditionalGids: []uint32{0}}, ""},
		{"container overrides pod", "", func(s *v1.PodSpec, c *v1.Container) {
			s.SecurityContext = &v1.PodSecurityContext{RunAsUser: secPtr[int64](1), RunAsGroup: secPtr[int64](2)}
			c.SecurityContext = &v1.SecurityContext{RunAsUser: secPtr[int64](3)}
		}, specs.User{UID: 3, GID: 2, AdditionalGids: []uint32{2}}, ""},
		{"fsGroup then supplementalGroups, deduplicated", "", podSC(func(s *v1.PodSecurityContext) {
			s.RunAsUser, s.RunAsGroup = secPtr[int64](1000), secPtr[int64](3000)
			s.FSGroup = secPtr[int64](2000)
			s.SupplementalGroups = []int64{4000, 2000, 3000}
		}), specs.User{UID: 1000, GID: 3000, AdditionalGids: []uint32{3000, 2000, 4000}}, ""},
		{"runAsNonRoot with root image", "", ctrSC(func(s *v1.SecurityContext) { s.RunAsNonRoot = secPtr(true) }),
			specs.User{}, `container has runAsNonRoot and image will run as root (pod: "web_ns(uid-1)", container: c)`},
		{"runAsNonRoot with uid 0 image", "0:0", podSC(func(s *v1.PodSecurityContext) { s.RunAsNonRoot = secPtr(true) }),
			specs.User{}, "image will run as root"},
		{"runAsNonRoot with named image user", "nginx", podSC(func(s *v1.PodSecurityContext) { s.RunAsNonRoot = secPtr(true) }),
			specs.User{}, "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root"},
		{"runAsNonRoot with runAsUser 0", "1000", ctrSC(func(s *v1.SecurityContext) { s.RunAsNonRoot, s.RunAsUser = secPtr(true), secPtr[int64](0) }),
			specs.User{}, "container's runAsUser breaks non-root policy"},
		{"runAsNonRoot with non-root image", "1000", podSC(func(s *v1.PodSecurityContext) { s.RunAsNonRoot = secPtr(true) }),
			specs.User{UID: 1000, AdditionalGids: []uint32{0}}, ""},
		{"runAsNonRoot satisfied by runAsUser", "", func(s *v1.PodSpec, c *v1.Container) {
			s.SecurityContext = &v1.PodSecurityContext{RunAsNonRoot: secPtr(true)}
			c.SecurityContext = &v1.SecurityContext{RunAsUser: secPtr[int64](65534)}
		}, specs.User{UID: 65534, AdditionalGids: []uint32{0}}, ""},
		{"container turns runAsNonRoot off", "", func(s *v1.PodSpec, c *v1.Container) {
			s.SecurityContext = &v1.PodSecurityContext{RunAsNonRoot: secPtr(true)}
			c.SecurityContext = &v1.SecurityContext{RunAsNonRoot: secPtr(false)}
		}, specs.User{AdditionalGids: []uint32{0}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := build(t, tt.imageUser, tt.mutate)
			checkUser(t, s, err, tt.want, tt.wantErr)
		})
	}
}

func TestCapabilities(t *testing.T) {
	fakeHost(t)
	def, err := build(t, "", func(*v1.PodSpec, *v1.Container) {})
	if err != nil {
		t.Fatal(err)
	}
	defaults := def.Process.Capabilities.Effective
	if !slices.Contains(defaults, "CAP_CHOWN") || slices.Contains(defaults, "CAP_SYS_ADMIN") {
		t.Fatalf("containerd's default set expected, got %v", defaults)
	}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(defaults), func(c string) bool { return slices.Contains(drop, c) })
	}
	tests := []struct {
		name      string
		add, drop []v1.Capability
		want      []string
	}{
		{"none", nil, nil, defaults},
		{"drop one", nil, []v1.Capability{"CHOWN"}, without("CAP_CHOWN")},
		{"drop with prefix, lower case", nil, []v1.Capability{"cap_chown", "KILL"}, without("CAP_CHOWN", "CAP_KILL")},
		{"add one", []v1.Capability{"NET_ADMIN"}, nil, append(slices.Clone(defaults), "CAP_NET_ADMIN")},
		{"add twice is once", []v1.Capability{"CAP_NET_ADMIN", "net_admin", "CHOWN"}, nil, append(slices.Clone(defaults), "CAP_NET_ADMIN")},
		{"drop all", nil, []v1.Capability{"ALL"}, nil},
		{"drop all, add one", []v1.Capability{"NET_BIND_SERVICE"}, []v1.Capability{"all"}, []string{"CAP_NET_BIND_SERVICE"}},
		{"add all, drop one", []v1.Capability{"ALL"}, []v1.Capability{"CHOWN"}, []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := build(t, "", func(_ *v1.PodSpec, c *v1.Container) {
				c.SecurityContext = &v1.SecurityContext{Capabilities: &v1.Capabilities{Add: tt.add, Drop: tt.drop}}
			})
			if err != nil {
				t.Fatal(err)
			}
			c := s.Process.Capabilities
			for name, set := range map[string][]string{"effective": c.Effective, "permitted": c.Permitted, "bounding": c.Bounding} {
				if !reflect.DeepEqual(set, tt.want) {
					t.Errorf("%s %v, want %v", name, set, tt.want)
				}
			}
			if len(c.Ambient) > 0 {
				t.Errorf("ambient %v", c.Ambient)
			}
		})
	}
}

func TestPrivileged(t *testing.T) {
	fakeHost(t)
	s, err := build(t, "", func(ps *v1.PodSpec, c *v1.Container) {
		ps.SecurityContext = &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}}
		c.SecurityContext = &v1.SecurityContext{Privileged: secPtr(true), Capabilities: &v1.Capabilities{Drop: []v1.Capability{"ALL"}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
	if got := s.Process.Capabilities.Effective; !reflect.DeepEqual(got, want) {
		t.Errorf("capabilities %v, want all the daemon has %v", got, want)
	}
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("masked %v, read-only %v: want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp != nil {
		t.Error("privileged container has a seccomp profile")
	}
	if !reflect.DeepEqual(s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}) {
		t.Errorf("device cgroup %+v, want all allowed", s.Linux.Resources.Devices)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/sda" {
		t.Errorf("devices %+v, want the host's", s.Linux.Devices)
	}
	for _, m := range s.Mounts {
		if (m.Type == "sysfs" || m.Type == "cgroup") && slices.Contains(m.Options, "ro") {
			t.Errorf("%s still read-only: %v", m.Destination, m.Options)
		}
	}

	plain, err := build(t, "", func(*v1.PodSpec, *v1.Container) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.Linux.MaskedPaths) == 0 || len(plain.Linux.ReadonlyPaths) == 0 {
		t.Error("an unprivileged container lost the masked and read-only paths")
	}
	if d := plain.Linux.Resources.Devices; len(d) != 1 || d[0].Allow || d[0].Access != "rwm" {
		t.Errorf("an unprivileged container's device cgroup %+v, want containerd's deny-all base", d)
	}
}

func TestSeccomp(t *testing.T) {
	rd := &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}
	un := &v1.SeccompProfile{Type: v1.SeccompProfileTypeUnconfined}
	tests := []struct {
		name         string
		pod, ctr     *v1.SeccompProfile
		wantFiltered bool
		wantErr      string
	}{
		{"kubelet default is unconfined", nil, nil, false, ""},
		{"pod RuntimeDefault", rd, nil, true, ""},
		{"container RuntimeDefault", nil, rd, true, ""},
		{"container Unconfined overrides pod", rd, un, false, ""},
		{"Localhost refused", nil, &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: secPtr("my.json")}, false, `seccompProfile Localhost ("my.json") is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := build(t, "", func(ps *v1.PodSpec, c *v1.Container) {
				ps.SecurityContext = &v1.PodSecurityContext{SeccompProfile: tt.pod}
				c.SecurityContext = &v1.SecurityContext{SeccompProfile: tt.ctr}
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Linux.Seccomp != nil; got != tt.wantFiltered {
				t.Fatalf("seccomp set %v, want %v", got, tt.wantFiltered)
			}
			if tt.wantFiltered && s.Linux.Seccomp.DefaultAction != specs.ActErrno {
				t.Errorf("default action %s, want containerd's errno profile", s.Linux.Seccomp.DefaultAction)
			}
		})
	}
}

func TestRootAndPrivilegeEscalation(t *testing.T) {
	tests := []struct {
		name             string
		sc               *v1.SecurityContext
		wantRO, wantNNP  bool
		wantErrSubstring string
	}{
		{"defaults", nil, false, false, ""},
		{"readOnlyRootFilesystem", &v1.SecurityContext{ReadOnlyRootFilesystem: secPtr(true)}, true, false, ""},
		{"allowPrivilegeEscalation false", &v1.SecurityContext{AllowPrivilegeEscalation: secPtr(false)}, false, true, ""},
		{"allowPrivilegeEscalation true", &v1.SecurityContext{AllowPrivilegeEscalation: secPtr(true)}, false, false, ""},
		{"procMount Unmasked", &v1.SecurityContext{ProcMount: secPtr(v1.UnmaskedProcMount)}, false, false, "needs user namespaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := build(t, "", func(_ *v1.PodSpec, c *v1.Container) { c.SecurityContext = tt.sc })
			if tt.wantErrSubstring != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring) {
					t.Fatalf("error %v, want %q", err, tt.wantErrSubstring)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Root.Readonly != tt.wantRO || s.Process.NoNewPrivileges != tt.wantNNP {
				t.Fatalf("root read-only %v, no_new_privs %v; want %v, %v", s.Root.Readonly, s.Process.NoNewPrivileges, tt.wantRO, tt.wantNNP)
			}
		})
	}
}

func TestKnownCapability(t *testing.T) {
	for name, want := range map[string]bool{"CHOWN": true, "cap_net_admin": true, "ALL": true, "all": true, "CAP_BPF": true, "FLY": false, "": false} {
		if got := KnownCapability(name); got != want {
			t.Errorf("KnownCapability(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestProcessUserImageFiles: names and group memberships come from the
// image's /etc/passwd and /etc/group, as containerd's CRI plugin reads them.
func TestProcessUserImageFiles(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n"
	group := "root:x:0:\nwheel:x:10:root\nnginx:x:101:\nstaff:x:50:app,nginx\napp:x:1000:\nwww:x:33:nginx\n"
	users, err := user.ParsePasswd(strings.NewReader(passwd))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := user.ParseGroup(strings.NewReader(group))
	if err != nil {
		t.Fatal(err)
	}
	none := func(*v1.PodSpec, *v1.Container) {}
	tests := []struct {
		name      string
		imageUser string
		mutate    func(*v1.PodSpec, *v1.Container)
		want      specs.User
		wantErr   string
	}{
		{"root gets its memberships", "", none, specs.User{AdditionalGids: []uint32{0, 10}}, ""},
		{"named user: its uid, its group, its memberships", "nginx", none, specs.User{UID: 101, GID: 101, AdditionalGids: []uint32{101, 50, 33}}, ""},
		{"numeric user found in /etc/passwd", "1000", none, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50}}, ""},
		{"numeric user not in /etc/passwd", "4242", none, specs.User{UID: 4242, AdditionalGids: []uint32{0}}, ""},
		{"named user and named group", "app:www", none, specs.User{UID: 1000, GID: 33, AdditionalGids: []uint32{33, 50}}, ""},
		{"named user and numeric group", "nginx:7", none, specs.User{UID: 101, GID: 7, AdditionalGids: []uint32{7, 50, 33}}, ""},
		{"unknown user", "nobody", none, specs.User{}, `image user "nobody" is not in the image's /etc/passwd`},
		{"unknown group", "app:nogroup", none, specs.User{}, `image group "nogroup" is not in the image's /etc/group`},
		{"runAsUser is looked up too", "nginx", podSC(func(s *v1.PodSecurityContext) { s.RunAsUser = secPtr[int64](1000) }),
			specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50}}, ""},
		{"runAsGroup wins over /etc/passwd", "nginx", podSC(func(s *v1.PodSecurityContext) { s.RunAsGroup = secPtr[int64](5) }),
			specs.User{UID: 101, GID: 5, AdditionalGids: []uint32{5, 50, 33}}, ""},
		{"memberships, then fsGroup and supplementalGroups", "app", podSC(func(s *v1.PodSecurityContext) {
			s.FSGroup = secPtr[int64](2000)
			s.SupplementalGroups = []int64{50, 3000}
		}), specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50, 2000, 3000}}, ""},
		{"runAsNonRoot still refuses a named user", "nginx", podSC(func(s *v1.PodSecurityContext) { s.RunAsNonRoot = secPtr(true) }),
			specs.User{}, "image has non-numeric user (nginx), cannot verify user is non-root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := buildImage(t, ImageConfig{User: tt.imageUser, Users: users, Groups: groups}, tt.mutate)
			checkUser(t, s, err, tt.want, tt.wantErr)
		})
	}
}
