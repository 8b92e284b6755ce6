package sandbox

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/volume"
)

// setupNetwork attaches a new sandbox's pinned namespace to the pod
// network and rewrites the pod's /etc/hosts with the address it got, as
// the kubelet does. Host-network pods and nodes without a pod network get
// no address ("").
func (m *Manager) setupNetwork(ctx context.Context, pod *v1.Pod, id, netns string) (string, error) {
	if pod.Spec.HostNetwork || m.Network == nil {
		return "", nil
	}
	ip, err := m.Network.Setup(ctx, id, netns, pod)
	if err != nil {
		return "", fmt.Errorf("set up pod network: %w", err)
	}
	hosts := m.PodPaths(string(pod.UID)).Hosts
	if err := volume.WriteFileAtomic(hosts, HostsFile(pod, ip), 0o644, nil); err != nil {
		if terr := m.Network.Teardown(context.WithoutCancel(ctx), id, netns); terr != nil {
			m.Logger.Warn("roll back pod network", zap.String("sandbox", id), zap.Error(terr))
		}
		return "", fmt.Errorf("write %s: %w", hosts, err)
	}
	return ip, nil
}

// releaseNetwork detaches a sandbox from the pod network (from the CNI
// cache: the same port mappings as the ADD, even after a daemon restart)
// before its namespace pin goes; the pin stays while that fails, so a
// retry can finish the job.
func (m *Manager) releaseNetwork(ctx context.Context, id string) error {
	path := m.NetNSPath(id)
	if m.Network != nil {
		netns := path
		if !isNetNS(path) {
			// Gone (or a stale file after a reboot): plugins still release
			// addresses and rules outside the namespace.
			netns = ""
		}
		if err := m.Network.Teardown(ctx, id, netns); err != nil {
			return fmt.Errorf("tear down network of sandbox %s: %w", id, err)
		}
	}
	return unpinNetNS(path)
}
