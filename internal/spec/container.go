package spec

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

// ImageConfig is the part of an image's configuration a container uses.
type ImageConfig struct {
	Entrypoint, Cmd, Env []string
	WorkingDir, User     string
	// Users and Groups are the entries of the image's /etc/passwd and
	// /etc/group, which resolve a named USER and give the user's group
	// memberships; nil when the image has no such file.
	Users  []user.User
	Groups []user.Group
}

// Container describes one container attempt of a pod.
type Container struct {
	ID        string
	Pod       *v1.Pod
	Container *v1.Container
	Image     ImageConfig
	SandboxID string
	// SandboxPid is the pause process, whose IPC, UTS (and shared PID)
	// namespaces the container joins.
	SandboxPid uint32
	NetNSPath  string
	// Files the pod shares between its containers; empty to skip.
	HostsPath, HostnamePath, ResolvConfPath, ShmPath string
	// TerminationLogPath is this attempt's host file mounted at the
	// container's terminationMessagePath; empty to skip.
	TerminationLogPath string
	// Env the daemon resolved for fieldRefs that need runtime facts.
	PodIP, HostIP string
	// Mounts are the container's volumeMounts, resolved to host paths by
	// internal/volume.
	Mounts []Mount
}

// ContainerSpec builds a container's spec: the image's config merged with
// the Kubernetes container, joined to the sandbox's namespaces by path.
func ContainerSpec(c Container) (*specs.Spec, error) {
	s, err := base(c.ID)
	if err != nil {
		return nil, err
	}
	env, err := Env(c)
	if err != nil {
		return nil, err
	}
	args := Args(c.Container, c.Image, env)
	if len(args) == 0 {
		return nil, fmt.Errorf("container %q: no command: neither the pod nor the image gives one", c.Container.Name)
	}
	s.Process.Args = args
	s.Process.Env = env
	s.Process.Cwd = c.Container.WorkingDir
	if s.Process.Cwd == "" {
		s.Process.Cwd = c.Image.WorkingDir
	}
	if s.Process.Cwd == "" {
		s.Process.Cwd = "/"
	}
	spec := &c.Pod.Spec
	if !spec.HostNetwork {
		s.Hostname = Hostname(c.Pod)
	}
	s.Linux.CgroupsPath = path.Join(PodCgroup(string(c.Pod.UID), QOSClass(c.Pod)), c.ID)
	s.Linux.Namespaces = containerNamespaces(c)
	s.Mounts = podMounts(s.Mounts, c)
	sec := EffectiveSecurity(c.Pod, c.Container)
	if err := volumeMounts(s, c.Mounts, sec.Privileged); err != nil {
		return nil, fmt.Errorf("container %q: %w", c.Container.Name, err)
	}
	// The base spec's device rules (deny all; runc then allows its
	// standard set) stay: only the privileged settings open them up.
	devices := s.Linux.Resources.Devices
	s.Linux.Resources = Resources(c.Container.Resources)
	s.Linux.Resources.Devices = devices
	if err := applySecurity(s, c); err != nil {
		return nil, err
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[GroupAnnotation] = c.SandboxID
	return s, nil
}

// Hostname is spec.hostname, or the pod's name as the kubelet does.
func Hostname(pod *v1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	// Pod names may be DNS subdomains; a hostname is at most a 63-byte
	// label, so the kubelet cuts it (and any trailing '-' or '.').
	h := pod.Name
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

func containerNamespaces(c Container) []specs.LinuxNamespace {
	spec := &c.Pod.Spec
	nsPath := func(kind string) string { return fmt.Sprintf("/proc/%d/ns/%s", c.SandboxPid, kind) }
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !spec.HostNetwork {
		ns = append(ns,
			specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: c.NetNSPath},
			specs.LinuxNamespace{Type: specs.UTSNamespace, Path: nsPath("uts")})
	}
	if !spec.HostIPC {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: nsPath("ipc")})
	}
	switch {
	case spec.HostPID:
	case spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace:
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: nsPath("pid")})
	default:
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	return ns
}

// podMounts replaces the default /dev/shm with the pod's shared one (POSIX
// shared memory only works across containers of one IPC namespace if they
// also see the same /dev/shm) and adds the pod's /etc files.
func podMounts(mounts []specs.Mount, c Container) []specs.Mount {
	out := mounts[:0:0]
	for _, m := range mounts {
		if m.Destination == "/dev/shm" && c.ShmPath != "" {
			continue
		}
		out = append(out, m)
	}
	bind := func(dst, src string) {
		if src != "" {
			out = append(out, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", "rw"}})
		}
	}
	bind("/dev/shm", c.ShmPath)
	bind("/etc/hosts", c.HostsPath)
	bind("/etc/hostname", c.HostnamePath)
	bind("/etc/resolv.conf", c.ResolvConfPath)
	if p := c.Container.TerminationMessagePath; p != "" {
		bind(p, c.TerminationLogPath)
	}
	return out
}

// Resources turns requests and limits into cgroup settings the way the
// kubelet does: CPU requests become shares, CPU limits a CFS quota over a
// 100 ms period, memory limits a hard limit.
func Resources(r v1.ResourceRequirements) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	// Shares come from the request (else the limit); with neither, the
	// minimum of 2, so a BestEffort container yields to every other one
	// instead of getting the kernel's default 1024.
	milli := int64(0)
	if q, ok := r.Requests[v1.ResourceCPU]; ok {
		milli = q.MilliValue()
	} else if q, ok := r.Limits[v1.ResourceCPU]; ok {
		milli = q.MilliValue()
	}
	shares := uint64(milli * 1024 / 1000)
	if shares < 2 {
		shares = 2
	}
	out.CPU = &specs.LinuxCPU{Shares: &shares}
	if q, ok := r.Limits[v1.ResourceCPU]; ok {
		period := uint64(100000)
		quota := q.MilliValue() * int64(period) / 1000
		// The kernel refuses quotas under 1 ms.
		if quota < 1000 {
			quota = 1000
		}
		out.CPU.Period, out.CPU.Quota = &period, &quota
	}
	if q, ok := r.Limits[v1.ResourceMemory]; ok {
		limit := q.Value()
		out.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	return out
}
