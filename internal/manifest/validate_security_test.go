package manifest

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestValidateSecurityAndMounts covers security contexts, emptyDir and
// volumeMount options, in the shape of TestValidate.
func TestValidateSecurityAndMounts(t *testing.T) {
	withVolume := func(p *v1.Pod, m v1.VolumeMount) {
		p.Spec.Volumes = []v1.Volume{{Name: "v"}}
		m.Name, m.MountPath = "v", "/v"
		c0(p).VolumeMounts = []v1.VolumeMount{m}
	}
	csc := func(p *v1.Pod) *v1.SecurityContext {
		c0(p).SecurityContext = &v1.SecurityContext{}
		return c0(p).SecurityContext
	}
	psc := func(p *v1.Pod) *v1.PodSecurityContext {
		p.Spec.SecurityContext = &v1.PodSecurityContext{}
		return p.Spec.SecurityContext
	}
	for _, tc := range []struct {
		name       string
		mutate     func(p *v1.Pod)
		wantField  string
		wantReason string
	}{
		{"everything allowed", func(p *v1.Pod) {
			size := resource.MustParse("64Mi")
			p.Spec.SecurityContext = &v1.PodSecurityContext{
				RunAsUser: ptr[int64](1000), RunAsGroup: ptr[int64](1000), RunAsNonRoot: ptr(true), FSGroup: ptr[int64](2000),
				SupplementalGroups: []int64{3000}, SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault},
				FSGroupChangePolicy: ptr(v1.FSGroupChangeOnRootMismatch), SupplementalGroupsPolicy: ptr(v1.SupplementalGroupsPolicyMerge),
			}
			p.Spec.Volumes = []v1.Volume{
				{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: &size}}},
				{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv", Type: ptr(v1.HostPathDirectoryOrCreate)}}},
			}
			c := c0(p)
			c.SecurityContext = &v1.SecurityContext{
				Privileged: ptr(true), ReadOnlyRootFilesystem: ptr(true), ProcMount: ptr(v1.DefaultProcMount),
				Capabilities:   &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN", "CAP_SYS_TIME", "all"}, Drop: []v1.Capability{"ALL", "chown"}},
				SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeUnconfined},
			}
			c.VolumeMounts = []v1.VolumeMount{
				{Name: "mem", MountPath: "/cache", SubPathExpr: "$(POD)/x"},
				{Name: "host", MountPath: "/srv", ReadOnly: true, RecursiveReadOnly: ptr(v1.RecursiveReadOnlyEnabled)},
				{Name: "host", MountPath: "/shared", MountPropagation: ptr(v1.MountPropagationBidirectional)},
			}
		}, "", ""},

		// security contexts
		{"runAsUser negative", func(p *v1.Pod) { csc(p).RunAsUser = ptr[int64](-1) }, "spec.containers[0].securityContext.runAsUser", "between 0 and 2147483647"},
		{"pod runAsGroup too big", func(p *v1.Pod) { psc(p).RunAsGroup = ptr[int64](1 << 32) }, "spec.securityContext.runAsGroup", "between 0 and 2147483647"},
		{"fsGroup negative", func(p *v1.Pod) { psc(p).FSGroup = ptr[int64](-5) }, "spec.securityContext.fsGroup", "between 0"},
		{"supplementalGroups", func(p *v1.Pod) { psc(p).SupplementalGroups = []int64{1, -1} }, "spec.securityContext.supplementalGroups[1]", "between 0"},
		{"supplementalGroupsPolicy", func(p *v1.Pod) { psc(p).SupplementalGroupsPolicy = ptr[v1.SupplementalGroupsPolicy]("Loose") }, "spec.securityContext.supplementalGroupsPolicy", "Merge"},
		{"fsGroupChangePolicy", func(p *v1.Pod) { psc(p).FSGroupChangePolicy = ptr[v1.PodFSGroupChangePolicy]("Never") }, "spec.securityContext.fsGroupChangePolicy", "OnRootMismatch"},
		{"pod runAsNonRoot with root", func(p *v1.Pod) { s := psc(p); s.RunAsNonRoot, s.RunAsUser = ptr(true), ptr[int64](0) },
			"spec.securityContext.runAsUser", `contradicts runAsNonRoot: container "app" would never start`},
		{"pod contradiction overridden by every container", func(p *v1.Pod) {
			s := psc(p)
			s.RunAsNonRoot, s.RunAsUser = ptr(true), ptr[int64](0)
			csc(p).RunAsUser = ptr[int64](1000)
		}, "", ""},
		{"container runAsUser 0 under pod runAsNonRoot", func(p *v1.Pod) { psc(p).RunAsNonRoot = ptr(true); csc(p).RunAsUser = ptr[int64](0) },
			"spec.containers[0].securityContext.runAsUser", "contradicts runAsNonRoot"},
		{"container runAsNonRoot under pod root", func(p *v1.Pod) { psc(p).RunAsUser = ptr[int64](0); csc(p).RunAsNonRoot = ptr(true) },
			"spec.containers[0].securityContext.runAsNonRoot", "contradicts runAsNonRoot"},
		{"privileged without escalation", func(p *v1.Pod) { s := csc(p); s.Privileged, s.AllowPrivilegeEscalation = ptr(true), ptr(false) },
			"spec.containers[0].securityContext", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"},
		{"SYS_ADMIN without escalation", func(p *v1.Pod) {
			s := csc(p)
			s.AllowPrivilegeEscalation = ptr(false)
			s.Capabilities = &v1.Capabilities{Add: []v1.Capability{"SYS_ADMIN"}}
		}, "spec.containers[0].securityContext", "CAP_SYS_ADMIN"},
		{"unknown capability", func(p *v1.Pod) { csc(p).Capabilities = &v1.Capabilities{Drop: []v1.Capability{"CHOWN", "FLY"}} },
			"spec.containers[0].securityContext.capabilities.drop[1]", `unknown capability "FLY"`},
		{"procMount Unmasked", func(p *v1.Pod) { csc(p).ProcMount = ptr(v1.UnmaskedProcMount) }, "spec.containers[0].securityContext.procMount", "user namespaces"},
		{"seccomp Localhost", func(p *v1.Pod) {
			psc(p).SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("x.json")}
		}, "spec.securityContext.seccompProfile.type", "Localhost is not supported"},
		{"seccomp unknown type", func(p *v1.Pod) { csc(p).SeccompProfile = &v1.SeccompProfile{Type: "Strict"} },
			"spec.containers[0].securityContext.seccompProfile.type", `unsupported value "Strict"`},
		{"seccomp localhostProfile without Localhost", func(p *v1.Pod) {
			csc(p).SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault, LocalhostProfile: ptr("x")}
		}, "spec.containers[0].securityContext.seccompProfile.localhostProfile", "only be set when type is Localhost"},
		{"appArmor Localhost", func(p *v1.Pod) { csc(p).AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeLocalhost} },
			"spec.containers[0].securityContext.appArmorProfile.type", "not supported"},
		{"appArmor Unconfined", func(p *v1.Pod) { csc(p).AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeUnconfined} }, "", ""},
		{"appArmor RuntimeDefault", func(p *v1.Pod) {
			csc(p).AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeRuntimeDefault}
		},
			"spec.containers[0].securityContext.appArmorProfile.type", "not supported yet"},
		{"supplementalGroupsPolicy Strict", func(p *v1.Pod) { psc(p).SupplementalGroupsPolicy = ptr(v1.SupplementalGroupsPolicyStrict) },
			"spec.securityContext.supplementalGroupsPolicy", "not supported yet: Strict"},
		{"windows hostProcess", func(p *v1.Pod) { psc(p).WindowsOptions = &v1.WindowsSecurityContextOptions{HostProcess: ptr(true)} },
			"spec.securityContext.windowsOptions.hostProcess", "Linux containers only"},

		// emptyDir and hostPath
		{"emptyDir HugePages", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: "HugePages-2Mi"}}}}
		}, "spec.volumes[0].emptyDir.medium", "HugePages-2Mi is not supported"},
		{"emptyDir unknown medium", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: "SSD"}}}}
		}, "spec.volumes[0].emptyDir.medium", `unsupported value "SSD"`},
		{"emptyDir negative sizeLimit", func(p *v1.Pod) {
			l := resource.MustParse("-1Mi")
			p.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: &l}}}}
		}, "spec.volumes[0].emptyDir.sizeLimit", ">= 0"},
		{"hostPath with ..", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv/../etc"}}}}
		}, "spec.volumes[0].hostPath.path", "must not contain '..'"},
		{"hostPath type", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv", Type: ptr[v1.HostPathType]("Pipe")}}}}
		}, "spec.volumes[0].hostPath.type", `unsupported value "Pipe"`},

		// volumeMounts
		{"subPath absolute", func(p *v1.Pod) { withVolume(p, v1.VolumeMount{SubPath: "/etc"}) }, "spec.containers[0].volumeMounts[0].subPath", "relative path"},
		{"subPath with .. inside", func(p *v1.Pod) { withVolume(p, v1.VolumeMount{SubPath: "a/../../b"}) }, "spec.containers[0].volumeMounts[0].subPath", "relative path"},
		{"subPathExpr with subPath", func(p *v1.Pod) { withVolume(p, v1.VolumeMount{SubPath: "a", SubPathExpr: "$(X)"}) },
			"spec.containers[0].volumeMounts[0].subPathExpr", "mutually exclusive"},
		{"subPathExpr with ..", func(p *v1.Pod) { withVolume(p, v1.VolumeMount{SubPathExpr: "$(X)/.."}) },
			"spec.containers[0].volumeMounts[0].subPathExpr", "without '..'"},
		{"Bidirectional unprivileged", func(p *v1.Pod) {
			withVolume(p, v1.VolumeMount{MountPropagation: ptr(v1.MountPropagationBidirectional)})
		},
			"spec.containers[0].volumeMounts[0].mountPropagation", "only to privileged containers"},
		{"unknown propagation", func(p *v1.Pod) { withVolume(p, v1.VolumeMount{MountPropagation: ptr[v1.MountPropagationMode]("Both")}) },
			"spec.containers[0].volumeMounts[0].mountPropagation", `unsupported value "Both"`},
		{"recursiveReadOnly without readOnly", func(p *v1.Pod) { withVolume(p, v1.VolumeMount{RecursiveReadOnly: ptr(v1.RecursiveReadOnlyEnabled)}) },
			"spec.containers[0].volumeMounts[0].recursiveReadOnly", "readOnly is true"},
		{"recursiveReadOnly with propagation", func(p *v1.Pod) {
			withVolume(p, v1.VolumeMount{ReadOnly: true, RecursiveReadOnly: ptr(v1.RecursiveReadOnlyIfPossible), MountPropagation: ptr(v1.MountPropagationHostToContainer)})
		}, "spec.containers[0].volumeMounts[0].recursiveReadOnly", "mountPropagation is None"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := validPod()
			tc.mutate(pod)
			issues := validatePod(pod)
			if tc.wantField == "" {
				if len(issues) != 0 {
					t.Fatalf("want no issues, got %v", issues)
				}
				return
			}
			if len(issues) != 1 {
				t.Fatalf("want exactly one issue, got %v", issues)
			}
			want := strings.ReplaceAll(tc.wantReason, ">= 0", "greater than or equal to 0")
			if issues[0].field != tc.wantField || !strings.Contains(issues[0].reason, want) {
				t.Errorf("got %s: %s\nwant %s: ...%s...", issues[0].field, issues[0].reason, tc.wantField, want)
			}
		})
	}
}

func TestSysctlNames(t *testing.T) {
	for name, ok := range map[string]bool{"kernel.shm_rmid_forced": true, "net.ipv4.ip_local_port_range": true, "net/ipv4/tcp_syncookies": true, "Kernel.Bad": false, "kernel..x": false, "": false} {
		p := &v1.Pod{}
		p.Name = "p"
		p.Spec.Containers = []v1.Container{{Name: "c", Image: "busybox:1"}}
		p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: []v1.Sysctl{{Name: name, Value: "1"}}}
		c := &checker{}
		c.podSecurity(&p.Spec, field.NewPath("spec", "securityContext"))
		if got := len(c.issues) == 0; got != ok {
			t.Errorf("%q: valid=%v, want %v (%v)", name, got, ok, c.issues)
		}
	}
}
