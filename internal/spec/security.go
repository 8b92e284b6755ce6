package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

// Host facts the security part of the container spec depends on, and
// only for privileged containers and capabilities "ALL": variables so
// that tests replace them. (The resource part reads one more,
// nodeCapacity in resourcefield.go.)
var (
	// allCapabilities is every capability the daemon itself holds, which
	// is what containerd's CRI plugin gives for "ALL" and privileged: a
	// root confined without some capability could not hand it on, and
	// runc would fail the container rather than drop it.
	allCapabilities = sync.OnceValues(cap.Current)
	// hostDevices lists the device nodes under the host's /dev, which a
	// privileged container gets as in the kubelet.
	hostDevices = oci.HostDevices
)

// Security is a container's security context with the pod's filled in
// where the container leaves a field unset (the kubelet's
// DetermineEffectiveSecurityContext).
type Security struct {
	RunAsUser, RunAsGroup *int64
	RunAsNonRoot          *bool
	Seccomp               *v1.SeccompProfile
	// Container-only fields.
	Privileged               bool
	ReadOnlyRootFilesystem   bool
	AllowPrivilegeEscalation *bool
	Capabilities             *v1.Capabilities
	ProcMount                v1.ProcMountType
	// Pod-only fields.
	FSGroup            *int64
	SupplementalGroups []int64
}

// EffectiveSecurity merges the pod's and the container's security
// contexts; the container's fields win.
func EffectiveSecurity(pod *v1.Pod, c *v1.Container) Security {
	var e Security
	if p := pod.Spec.SecurityContext; p != nil {
		e.RunAsUser, e.RunAsGroup, e.RunAsNonRoot = p.RunAsUser, p.RunAsGroup, p.RunAsNonRoot
		e.Seccomp = p.SeccompProfile
		e.FSGroup = p.FSGroup
		e.SupplementalGroups = p.SupplementalGroups
	}
	sc := c.SecurityContext
	if sc == nil {
		return e
	}
	if sc.RunAsUser != nil {
		e.RunAsUser = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		e.RunAsGroup = sc.RunAsGroup
	}
	if sc.RunAsNonRoot != nil {
		e.RunAsNonRoot = sc.RunAsNonRoot
	}
	if sc.SeccompProfile != nil {
		e.Seccomp = sc.SeccompProfile
	}
	e.Privileged = sc.Privileged != nil && *sc.Privileged
	e.ReadOnlyRootFilesystem = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	e.AllowPrivilegeEscalation = sc.AllowPrivilegeEscalation
	e.Capabilities = sc.Capabilities
	if sc.ProcMount != nil {
		e.ProcMount = *sc.ProcMount
	}
	return e
}

// applySecurity sets the process's user and groups, capabilities, the
// privileged settings, the read-only root, no_new_privs and seccomp. It
// runs last: the privileged settings open up mounts and devices the
// earlier steps set, and the default seccomp profile depends on the final
// capabilities.
func applySecurity(s *specs.Spec, c Container) error {
	sec := EffectiveSecurity(c.Pod, c.Container)
	user, err := processUser(c, sec)
	if err != nil {
		return err
	}
	s.Process.User = user
	if sec.ProcMount != "" && sec.ProcMount != v1.DefaultProcMount {
		return fmt.Errorf("container %q: procMount %q needs user namespaces (hostUsers: false), which minikubelet does not support", c.Container.Name, sec.ProcMount)
	}
	if sec.Privileged {
		if err := applyPrivileged(s); err != nil {
			return err
		}
	} else if sec.Capabilities != nil {
		if err := applyCapabilities(s.Process.Capabilities, sec.Capabilities); err != nil {
			return err
		}
	}
	// As in containerd's CRI plugin: what capabilities mean for a
	// non-root process is not defined by Kubernetes (kubernetes#56374).
	s.Process.Capabilities.Ambient = nil
	// The kubelet asks for no_new_privs only when allowPrivilegeEscalation
	// is explicitly false; containerd's base spec would set it always.
	s.Process.NoNewPrivileges = sec.AllowPrivilegeEscalation != nil && !*sec.AllowPrivilegeEscalation
	s.Root.Readonly = sec.ReadOnlyRootFilesystem
	return applySeccomp(s, c.Container.Name, sec)
}

// processUser is the uid, gid and additional groups the container runs
// with, resolved as containerd's CRI plugin does for the kubelet:
//   - the uid is runAsUser, else the image's USER (a name is looked up in
//     the image's /etc/passwd), else root;
//   - the gid is runAsGroup, else the group of the image's USER (a name is
//     looked up in /etc/group), else the user's group in /etc/passwd, else
//     0; runAsUser replaces the image's group along with its user;
//   - the additional groups are the gid, the groups of /etc/group that list
//     the user (the kubelet's default supplementalGroupsPolicy, Merge), then
//     fsGroup and supplementalGroups.
//
// runAsNonRoot is checked first, against the numbers the pod and the image
// give, with the kubelet's messages: like the kubelet, a named image user
// does not satisfy it (the kubelet checks before the runtime resolves
// names).
func processUser(c Container, sec Security) (specs.User, error) {
	uid, gid, name, group, err := parseImageUser(c.Image.User)
	if err != nil {
		return specs.User{}, fmt.Errorf("container %q: %w", c.Container.Name, err)
	}
	if sec.RunAsNonRoot != nil && *sec.RunAsNonRoot {
		pod := fmt.Sprintf("%s_%s(%s)", c.Pod.Name, c.Pod.Namespace, c.Pod.UID)
		switch {
		case sec.RunAsUser != nil && *sec.RunAsUser == 0:
			return specs.User{}, fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod, c.Container.Name)
		case sec.RunAsUser != nil:
		case name != "":
			return specs.User{}, fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", name, pod, c.Container.Name)
		case uid == nil || *uid == 0:
			// No USER in the image means root, as in the kubelet.
			return specs.User{}, fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod, c.Container.Name)
		}
	}
	if sec.RunAsUser != nil {
		// runAsUser replaces the image's user and group alike.
		v := uint32(*sec.RunAsUser)
		uid, gid, name, group = &v, nil, "", ""
	}

	var u specs.User
	var entry *user.User // the user's /etc/passwd entry, if any
	switch {
	case name != "":
		i := slices.IndexFunc(c.Image.Users, func(e user.User) bool { return e.Name == name })
		if i < 0 {
			return specs.User{}, fmt.Errorf("container %q: image user %q is not in the image's /etc/passwd%s", c.Container.Name, name, noFile(c.Image.Users == nil))
		}
		entry = &c.Image.Users[i]
		u.UID = uint32(entry.Uid)
	case uid != nil:
		u.UID = *uid
		fallthrough
	default:
		if i := slices.IndexFunc(c.Image.Users, func(e user.User) bool { return e.Uid == int(u.UID) }); i >= 0 {
			entry = &c.Image.Users[i]
		}
	}

	switch {
	case sec.RunAsGroup != nil:
		u.GID = uint32(*sec.RunAsGroup)
	case group != "":
		i := slices.IndexFunc(c.Image.Groups, func(g user.Group) bool { return g.Name == group })
		if i < 0 {
			return specs.User{}, fmt.Errorf("container %q: image group %q is not in the image's /etc/group%s", c.Container.Name, group, noFile(c.Image.Groups == nil))
		}
		u.GID = uint32(c.Image.Groups[i].Gid)
	case gid != nil:
		u.GID = *gid
	case entry != nil:
		u.GID = uint32(entry.Gid)
	}

	u.AdditionalGids = []uint32{u.GID}
	var extra []int64
	if entry != nil {
		for _, g := range c.Image.Groups {
			if slices.Contains(g.List, entry.Name) {
				extra = append(extra, int64(g.Gid))
			}
		}
	}
	if sec.FSGroup != nil {
		extra = append(extra, *sec.FSGroup)
	}
	extra = append(extra, sec.SupplementalGroups...)
	for _, g := range extra {
		if !slices.Contains(u.AdditionalGids, uint32(g)) {
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}

// noFile completes the message of a name that could not be resolved when
// the image has no file to resolve it in.
func noFile(missing bool) string {
	if missing {
		return " (the image has none); set securityContext.runAsUser and runAsGroup"
	}
	return ""
}

// parseImageUser splits an image's USER ("uid", "uid:gid", "name",
// "name:group") into numeric ids or names.
func parseImageUser(s string) (uid, gid *uint32, name, group string, err error) {
	if s == "" {
		return nil, nil, "", "", nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	if u == "" {
		return nil, nil, "", "", fmt.Errorf("image user %q: empty user name", s)
	}
	if n, perr := strconv.ParseUint(u, 10, 32); perr == nil {
		v := uint32(n)
		uid = &v
	} else {
		name = u
	}
	if hasGroup && g != "" {
		if n, perr := strconv.ParseUint(g, 10, 32); perr == nil {
			v := uint32(n)
			gid = &v
		} else {
			group = g
		}
	}
	return uid, gid, name, group, nil
}

// CapabilityName turns a Kubernetes capability name ("NET_ADMIN",
// "net_admin" or "CAP_NET_ADMIN") into the OCI one ("CAP_NET_ADMIN").
func CapabilityName(name string) string {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	return n
}

// KnownCapability reports whether name (in any form CapabilityName
// takes, or "ALL") is a Linux capability.
func KnownCapability(name string) bool {
	return strings.EqualFold(name, "ALL") || slices.Contains(cap.Known(), CapabilityName(name))
}

// applyCapabilities adds and drops capabilities over containerd's default
// set the way containerd's CRI plugin does: "ALL" in add first grants
// everything and "ALL" in drop first clears everything, so that named
// entries still apply on top (add ALL, drop CHOWN: all but CHOWN).
func applyCapabilities(caps *specs.LinuxCapabilities, kc *v1.Capabilities) error {
	isAll := func(c v1.Capability) bool { return strings.EqualFold(string(c), "ALL") }
	if slices.ContainsFunc(kc.Add, isAll) {
		all, err := allCapabilities()
		if err != nil {
			return fmt.Errorf("read the daemon's capabilities for \"ALL\": %w", err)
		}
		caps.Bounding, caps.Effective, caps.Permitted = clone(all), clone(all), clone(all)
	}
	if slices.ContainsFunc(kc.Drop, isAll) {
		caps.Bounding, caps.Effective, caps.Permitted, caps.Inheritable = nil, nil, nil, nil
	}
	for _, c := range kc.Add {
		if isAll(c) {
			continue
		}
		n := CapabilityName(string(c))
		for _, set := range []*[]string{&caps.Bounding, &caps.Effective, &caps.Permitted} {
			if !slices.Contains(*set, n) {
				*set = append(*set, n)
			}
		}
	}
	for _, c := range kc.Drop {
		if isAll(c) {
			continue
		}
		n := CapabilityName(string(c))
		for _, set := range []*[]string{&caps.Bounding, &caps.Effective, &caps.Permitted, &caps.Inheritable} {
			*set = slices.DeleteFunc(*set, func(x string) bool { return x == n })
		}
	}
	return nil
}

func clone(s []string) []string { return append([]string(nil), s...) }

// applyPrivileged gives what a privileged container gets from the kubelet
// on containerd: every capability the daemon has, no masked or read-only
// /proc paths, writable sysfs and cgroupfs, the host's devices, every
// device allowed in the device cgroup, and no seccomp or AppArmor.
func applyPrivileged(s *specs.Spec) error {
	all, err := allCapabilities()
	if err != nil {
		return fmt.Errorf("read the daemon's capabilities for a privileged container: %w", err)
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: clone(all), Effective: clone(all), Permitted: clone(all)}
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for i := range s.Mounts {
		if m := &s.Mounts[i]; m.Type == "sysfs" || m.Type == "cgroup" {
			for j, o := range m.Options {
				if o == "ro" {
					m.Options[j] = "rw"
				}
			}
		}
	}
	devs, err := hostDevices()
	if err != nil {
		return fmt.Errorf("list host devices for a privileged container: %w", err)
	}
	s.Linux.Devices = append(s.Linux.Devices, devs...)
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	s.Process.ApparmorProfile = ""
	s.Process.SelinuxLabel = ""
	return nil
}

// applySeccomp sets the seccomp filter. The kubelet's default (no
// seccompProfile anywhere) is Unconfined; RuntimeDefault is containerd's
// default profile, built for the final capabilities (it allows the
// syscalls they grant). Privileged containers get none, as with
// containerd's CRI plugin.
func applySeccomp(s *specs.Spec, container string, sec Security) error {
	s.Linux.Seccomp = nil
	p := sec.Seccomp
	if sec.Privileged || p == nil {
		return nil
	}
	switch p.Type {
	case v1.SeccompProfileTypeUnconfined:
	case v1.SeccompProfileTypeRuntimeDefault:
		s.Linux.Seccomp = seccomp.DefaultProfile(s)
	case v1.SeccompProfileTypeLocalhost:
		name := ""
		if p.LocalhostProfile != nil {
			name = *p.LocalhostProfile
		}
		return fmt.Errorf("container %q: seccompProfile Localhost (%q) is not supported by minikubelet: use RuntimeDefault or Unconfined", container, name)
	default:
		return fmt.Errorf("container %q: unknown seccompProfile type %q", container, p.Type)
	}
	return nil
}
