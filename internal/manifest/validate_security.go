package manifest

import (
	"math"
	"path"
	"regexp"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/minikubelet/minikubelet/internal/spec"
)

// podSecurity checks spec.securityContext: the API server's rules, plus
// what minikubelet cannot do (Localhost profiles), plus a runAsNonRoot
// that a root runAsUser contradicts for some container that sets neither.
// sysctlName is the shape of a sysctl name, as the API validates it.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

func (c *checker) podSecurity(ps *v1.PodSpec, p *field.Path) {
	sc := ps.SecurityContext
	if sc == nil {
		return
	}
	if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		for _, ctr := range append(append([]v1.Container(nil), ps.InitContainers...), ps.Containers...) {
			if ctr.SecurityContext == nil || (ctr.SecurityContext.RunAsUser == nil && ctr.SecurityContext.RunAsNonRoot == nil) {
				c.add(p.Child("runAsUser"), "0 (root) contradicts runAsNonRoot: container %q would never start", ctr.Name)
				break
			}
		}
	}
	c.id(sc.RunAsUser, p.Child("runAsUser"))
	c.id(sc.RunAsGroup, p.Child("runAsGroup"))
	c.id(sc.FSGroup, p.Child("fsGroup"))
	seen := map[string]bool{}
	for i, s := range sc.Sysctls {
		sp := p.Child("sysctls").Index(i)
		name := strings.ReplaceAll(s.Name, "/", ".")
		switch {
		case !sysctlName.MatchString(name) || len(name) > 253:
			c.add(sp.Child("name"), "%q is not a sysctl name (like kernel.shm_rmid_forced)", s.Name)
		case seen[name]:
			c.add(sp.Child("name"), "%q is set twice", s.Name)
		}
		seen[name] = true
		// Whether the node allows it is the daemon's call (its safe set
		// and allowed-unsafe-sysctls): a refused pod fails with
		// SysctlForbidden.
	}
	for i, g := range sc.SupplementalGroups {
		c.id(&g, p.Child("supplementalGroups").Index(i))
	}
	if pol := sc.SupplementalGroupsPolicy; pol != nil && *pol == v1.SupplementalGroupsPolicyStrict {
		c.add(p.Child("supplementalGroupsPolicy"), "%s: Strict; minikubelet merges the image's groups for the user (Merge)", notYet)
	} else if pol != nil && *pol != v1.SupplementalGroupsPolicyMerge {
		c.add(p.Child("supplementalGroupsPolicy"), `unsupported value %q: must be "Merge" or "Strict"`, *pol)
	}
	if pol := sc.FSGroupChangePolicy; pol != nil && *pol != v1.FSGroupChangeOnRootMismatch && *pol != v1.FSGroupChangeAlways {
		c.add(p.Child("fsGroupChangePolicy"), `unsupported value %q: must be "OnRootMismatch" or "Always"`, *pol)
	}
	c.seccomp(sc.SeccompProfile, p.Child("seccompProfile"))
	c.appArmor(sc.AppArmorProfile, p.Child("appArmorProfile"))
	c.linuxOnly(sc.WindowsOptions, p.Child("windowsOptions"))
	c.seLinux(sc.SELinuxOptions, p.Child("seLinuxOptions"))
	if sc.SELinuxChangePolicy != nil {
		c.add(p.Child("seLinuxChangePolicy"), "%s: minikubelet sets no SELinux labels; remove the field", notYet)
	}
}

// linuxOnly refuses windowsOptions: nothing of them applies to the Linux
// containers minikubelet runs.
func (c *checker) linuxOnly(w *v1.WindowsSecurityContextOptions, p *field.Path) {
	if w == nil {
		return
	}
	if w.HostProcess != nil && *w.HostProcess {
		c.add(p.Child("hostProcess"), "not allowed: minikubelet runs Linux containers only")
		return
	}
	c.add(p, "not allowed: minikubelet runs Linux containers only, so Windows options would do nothing; remove them")
}

func (c *checker) seLinux(o *v1.SELinuxOptions, p *field.Path) {
	if o != nil {
		c.add(p, "%s: minikubelet sets no SELinux labels; remove the field", notYet)
	}
}

// containerSecurity checks a container's securityContext, and the
// runAsNonRoot/runAsUser contradiction that the kubelet only finds when
// it starts the container ("container's runAsUser breaks non-root
// policy"): said here, it names the field. A contradiction that only the
// pod's fields make is podSecurity's.
func (c *checker) containerSecurity(ctr *v1.Container, p *field.Path, pod *v1.PodSpec) {
	eff := spec.EffectiveSecurity(&v1.Pod{Spec: *pod}, ctr)
	own := ctr.SecurityContext != nil && (ctr.SecurityContext.RunAsUser != nil || ctr.SecurityContext.RunAsNonRoot != nil)
	if own && eff.RunAsNonRoot != nil && *eff.RunAsNonRoot && eff.RunAsUser != nil && *eff.RunAsUser == 0 {
		where := p.Child("securityContext", "runAsUser")
		if ctr.SecurityContext.RunAsUser == nil {
			where = p.Child("securityContext", "runAsNonRoot")
		}
		c.add(where, "runAsUser 0 (root) contradicts runAsNonRoot: the container would never start")
	}
	sc := ctr.SecurityContext
	if sc == nil {
		return
	}
	p = p.Child("securityContext")
	c.id(sc.RunAsUser, p.Child("runAsUser"))
	c.id(sc.RunAsGroup, p.Child("runAsGroup"))
	noEscalation := sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	if noEscalation && sc.Privileged != nil && *sc.Privileged {
		c.add(p, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")
	}
	if caps := sc.Capabilities; caps != nil {
		for _, list := range []struct {
			name string
			caps []v1.Capability
		}{{"add", caps.Add}, {"drop", caps.Drop}} {
			for i, name := range list.caps {
				if !spec.KnownCapability(string(name)) {
					c.add(p.Child("capabilities", list.name).Index(i), "unknown capability %q: must be a Linux capability such as NET_ADMIN (CAP_ prefix optional) or ALL", name)
				}
			}
		}
		if noEscalation && slices.ContainsFunc(caps.Add, func(n v1.Capability) bool { return spec.CapabilityName(string(n)) == "CAP_SYS_ADMIN" }) {
			c.add(p, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN")
		}
	}
	if pm := sc.ProcMount; pm != nil {
		switch *pm {
		case v1.DefaultProcMount:
		case v1.UnmaskedProcMount:
			c.add(p.Child("procMount"), "Unmasked needs user namespaces (hostUsers: false), which minikubelet does not support; use Default")
		default:
			c.add(p.Child("procMount"), `unsupported value %q: must be "Default" or "Unmasked"`, *pm)
		}
	}
	c.seccomp(sc.SeccompProfile, p.Child("seccompProfile"))
	c.appArmor(sc.AppArmorProfile, p.Child("appArmorProfile"))
	c.linuxOnly(sc.WindowsOptions, p.Child("windowsOptions"))
	c.seLinux(sc.SELinuxOptions, p.Child("seLinuxOptions"))
}

// id checks a uid or gid as the API server does.
func (c *checker) id(v *int64, p *field.Path) {
	if v != nil && (*v < 0 || *v > math.MaxInt32) {
		c.add(p, "must be between 0 and 2147483647, inclusive, got %d", *v)
	}
}

func (c *checker) seccomp(sp *v1.SeccompProfile, p *field.Path) {
	if sp == nil {
		return
	}
	switch sp.Type {
	case v1.SeccompProfileTypeRuntimeDefault, v1.SeccompProfileTypeUnconfined:
		if sp.LocalhostProfile != nil {
			c.add(p.Child("localhostProfile"), "can only be set when type is Localhost")
		}
	case v1.SeccompProfileTypeLocalhost:
		c.add(p.Child("type"), "Localhost is not supported by minikubelet (it loads no profiles from the node); use RuntimeDefault or Unconfined")
	case "":
		c.add(p.Child("type"), "required")
	default:
		c.add(p.Child("type"), `unsupported value %q: must be "RuntimeDefault", "Unconfined" or "Localhost"`, sp.Type)
	}
}

func (c *checker) appArmor(ap *v1.AppArmorProfile, p *field.Path) {
	if ap == nil {
		return
	}
	switch ap.Type {
	case v1.AppArmorProfileTypeUnconfined:
	case v1.AppArmorProfileTypeRuntimeDefault:
		c.add(p.Child("type"), "%s: minikubelet loads no AppArmor profile, so RuntimeDefault would run unconfined; use Unconfined or remove the field", notYet)
	case v1.AppArmorProfileTypeLocalhost:
		c.add(p.Child("type"), "Localhost is not supported by minikubelet (it loads no AppArmor profiles); use RuntimeDefault or Unconfined")
	case "":
		c.add(p.Child("type"), "required")
	default:
		c.add(p.Child("type"), `unsupported value %q: must be "RuntimeDefault", "Unconfined" or "Localhost"`, ap.Type)
	}
}

func (c *checker) emptyDir(ed *v1.EmptyDirVolumeSource, p *field.Path) {
	switch {
	case ed.Medium == v1.StorageMediumDefault, ed.Medium == v1.StorageMediumMemory:
	case ed.Medium == v1.StorageMediumHugePages, strings.HasPrefix(string(ed.Medium), string(v1.StorageMediumHugePagesPrefix)):
		c.add(p.Child("medium"), "%s is not supported by minikubelet; use \"\" (disk) or Memory", ed.Medium)
	default:
		c.add(p.Child("medium"), `unsupported value %q: must be "" or "Memory"`, ed.Medium)
	}
	if ed.Mode != nil {
		c.add(p.Child("mode"), "%s: an emptyDir is always mode 0777 (with setgid under fsGroup), as the kubelet makes it", notYet)
	}
	if l := ed.SizeLimit; l != nil && l.Sign() < 0 {
		c.add(p.Child("sizeLimit"), "must be greater than or equal to 0, got %s", l.String())
	}
}

// mountOptions checks what a volumeMount asks of the mount itself, with
// the API server's rules: propagation, recursive read-only, subPathExpr.
func (c *checker) mountOptions(ctr *v1.Container, p *field.Path) {
	privileged := ctr.SecurityContext != nil && ctr.SecurityContext.Privileged != nil && *ctr.SecurityContext.Privileged
	for i, m := range ctr.VolumeMounts {
		mp := p.Index(i)
		prop := v1.MountPropagationNone
		if m.MountPropagation != nil {
			prop = *m.MountPropagation
		}
		switch prop {
		case v1.MountPropagationNone, v1.MountPropagationHostToContainer:
		case v1.MountPropagationBidirectional:
			if !privileged {
				c.add(mp.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers")
			}
		default:
			c.add(mp.Child("mountPropagation"), `unsupported value %q: must be "None", "HostToContainer" or "Bidirectional"`, prop)
		}
		if rro := m.RecursiveReadOnly; rro != nil {
			switch *rro {
			case v1.RecursiveReadOnlyDisabled:
			case v1.RecursiveReadOnlyIfPossible, v1.RecursiveReadOnlyEnabled:
				if !m.ReadOnly {
					c.add(mp.Child("recursiveReadOnly"), "may only be specified when readOnly is true")
				}
				if prop != v1.MountPropagationNone {
					c.add(mp.Child("recursiveReadOnly"), "may only be specified when mountPropagation is None or not specified")
				}
			default:
				c.add(mp.Child("recursiveReadOnly"), `unsupported value %q: must be "Disabled", "IfPossible" or "Enabled"`, *rro)
			}
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				c.add(mp.Child("subPathExpr"), "subPathExpr and subPath are mutually exclusive")
			}
			if path.IsAbs(m.SubPathExpr) || hasBackstep(m.SubPathExpr) {
				c.add(mp.Child("subPathExpr"), "must be a relative path inside the volume without '..', got %q", m.SubPathExpr)
			}
		}
	}
}

// hasBackstep reports whether a slash-separated path has a ".." element.
func hasBackstep(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}
