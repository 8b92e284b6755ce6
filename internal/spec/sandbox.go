// Package spec builds the OCI runtime specs of pod sandboxes and
// containers. Every builder is a pure function of its inputs — no files, no
// runtime calls — so the rules (which namespaces are shared, what is
// mounted, how command and args combine) are tested with tables.
package spec

import (
	"context"
	"fmt"
	"path"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

// GroupAnnotation makes the runc v2 shim run every container carrying the
// same value in one shim process, as the CRI plugin does for a pod.
const GroupAnnotation = "io.containerd.runc.v2.group"

// CgroupRoot is the cgroup (cgroupfs path) under which every pod gets its
// own pod<uid> cgroup.
const CgroupRoot = "/minikubelet"

// PodCgroup returns the cgroup path of a pod, laid out by QoS class as the
// kubelet lays out kubepods: Guaranteed pods directly under the root,
// Burstable and BestEffort pods under a parent of their class, so the
// sandbox and the containers of a pod share one parent.
func PodCgroup(podUID string, qos v1.PodQOSClass) string {
	switch qos {
	case v1.PodQOSBurstable:
		return path.Join(CgroupRoot, "burstable", "pod"+podUID)
	case v1.PodQOSBestEffort:
		return path.Join(CgroupRoot, "besteffort", "pod"+podUID)
	}
	return path.Join(CgroupRoot, "pod"+podUID)
}

// PodCgroups returns every place a pod's cgroup may be, for cleaning up a
// pod whose spec (and so QoS class) is no longer known.
func PodCgroups(podUID string) []string {
	return []string{
		PodCgroup(podUID, v1.PodQOSGuaranteed),
		PodCgroup(podUID, v1.PodQOSBurstable),
		PodCgroup(podUID, v1.PodQOSBestEffort),
	}
}

// QOSClass classifies a pod as the API server does: Guaranteed when every
// container sets CPU and memory limits equal to its requests, BestEffort
// when none sets any, Burstable otherwise.
func QOSClass(pod *v1.Pod) v1.PodQOSClass {
	all := append(append([]v1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	anySet, guaranteed := false, true
	for _, c := range all {
		for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return v1.PodQOSBestEffort
	case guaranteed:
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

// Sandbox describes a pod sandbox (its pause container).
type Sandbox struct {
	ID       string
	PodUID   string
	QOSClass v1.PodQOSClass
	Hostname string
	// NetNSPath is the pinned network namespace; empty with HostNetwork.
	NetNSPath   string
	HostNetwork bool
	HostPID     bool
	HostIPC     bool
	// ShareProcessNamespace makes the pause process PID 1 of a namespace
	// every container of the pod joins.
	ShareProcessNamespace bool
	// Args is the pause image's entrypoint.
	Args []string
	// Sysctls are set in the sandbox's namespaces, which every container
	// of the pod shares.
	Sysctls map[string]string
	// OOMScoreAdj keeps the pause process from being the OOM killer's
	// choice (the kubelet uses -998); nil leaves the runtime's default.
	OOMScoreAdj *int
}

// base returns containerd's default Linux spec for id: the standard
// mounts, masked paths, capabilities and rlimits every container gets.
func base(id string) (*specs.Spec, error) {
	// The namespace only feeds the default cgroups path, which callers
	// replace; any name does.
	ctx := namespaces.WithNamespace(context.Background(), "minikubelet")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: id})
	if err != nil {
		return nil, fmt.Errorf("generate default spec: %w", err)
	}
	return s, nil
}

// SandboxSpec builds the pause container's spec. The pause process owns the
// pod's IPC and UTS namespaces (and PID namespace when shared); the network
// namespace is created and pinned beforehand so it outlives the process.
func SandboxSpec(sb Sandbox) (*specs.Spec, error) {
	s, err := base(sb.ID)
	if err != nil {
		return nil, err
	}
	args := sb.Args
	if len(args) == 0 {
		args = []string{"/pause"}
	}
	s.Process.Args = args
	s.Process.Env = []string{"PATH=/"}
	s.Process.Cwd = "/"
	// The pause process needs no privilege at all.
	s.Process.User = specs.User{UID: 65535, GID: 65535}
	s.Process.Capabilities = &specs.LinuxCapabilities{}
	s.Process.NoNewPrivileges = true
	if sb.OOMScoreAdj != nil {
		score := *sb.OOMScoreAdj
		s.Process.OOMScoreAdj = &score
	}
	s.Root.Readonly = true
	if !sb.HostNetwork {
		s.Hostname = sb.Hostname
	}
	s.Linux.CgroupsPath = path.Join(PodCgroup(sb.PodUID, sb.QOSClass), sb.ID)
	s.Linux.Namespaces = sandboxNamespaces(sb)
	if len(sb.Sysctls) > 0 {
		s.Linux.Sysctl = map[string]string{}
		for k, v := range sb.Sysctls {
			s.Linux.Sysctl[k] = v
		}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[GroupAnnotation] = sb.ID
	return s, nil
}

func sandboxNamespaces(sb Sandbox) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !sb.HostNetwork {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetNSPath})
		// A pod on the host's network also keeps the host's name, as in
		// the kubelet; otherwise it gets its own UTS namespace.
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}
	if !sb.HostIPC {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	if !sb.HostPID {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	return ns
}
