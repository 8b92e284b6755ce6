// Package cni owns pod networking through CNI plugins (libcni): choosing
// the network (the first configuration in --cni-conf-dir, or the daemon's
// own default bridge network written under the state dir), attaching a
// sandbox's network namespace to it with the pod's host ports, and
// detaching it again from libcni's cache, so a DEL after a daemon restart
// carries the same port mappings as the ADD did.
package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
)

// IfName is the pod's interface inside its network namespace.
const IfName = "eth0"

// DefaultPodCIDR is the default network's subnet: private, and not the
// 10.88.0.0/16 podman and containerd's examples use.
const DefaultPodCIDR = "10.217.0.0/16"

// DefaultBridge is the default network's bridge interface.
const DefaultBridge = "minikubelet0"

// DefaultNetworkName names the default network (and its conflist).
const DefaultNetworkName = "minikubelet"

// Options configure New.
type Options struct {
	// BinDirs are searched in order for plugin binaries.
	BinDirs []string
	// ConfDir holds the operator's network configurations; its first
	// *.conflist, *.conf or *.json (in name order) is used.
	ConfDir string
	// StateDir is the daemon's own CNI directory (<state-dir>/cni): the
	// default network's conflist, host-local's allocations and libcni's
	// cache live there.
	StateDir string
	// PodCIDR is the default network's subnet (DefaultPodCIDR when empty).
	PodCIDR string
	Logger  *zap.Logger
}

// Network attaches sandboxes to one CNI network list.
type Network struct {
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
	// Source is the file the configuration came from.
	Source string
	// records holds one file per attachment made or being made (see
	// record.go), so that a DEL is possible for as long as it is needed.
	records string
	log     *zap.Logger
}

// ErrNoPlugins means a plugin the network needs is not installed; pods
// then get a loopback-only network.
var ErrNoPlugins = errors.New("cni plugins not installed")

// New loads the network. With no configuration in ConfDir it writes and
// uses the default one. It returns ErrNoPlugins (wrapped, naming the
// plugin and the directories) when a plugin binary is missing.
func New(o Options) (*Network, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	list, src, err := loadConfDir(o.ConfDir)
	if err != nil {
		return nil, err
	}
	if list == nil {
		cidr := o.PodCIDR
		if cidr == "" {
			cidr = DefaultPodCIDR
		}
		data, err := DefaultConfList(cidr, filepath.Join(o.StateDir, "networks"))
		if err != nil {
			return nil, err
		}
		src = filepath.Join(o.StateDir, "net.d", "10-"+DefaultNetworkName+".conflist")
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return nil, fmt.Errorf("create cni config directory: %w", err)
		}
		if err := os.WriteFile(src, data, 0o644); err != nil {
			return nil, fmt.Errorf("write default cni network: %w", err)
		}
		if list, err = libcni.ConfListFromBytes(data); err != nil {
			return nil, fmt.Errorf("default cni network: %w", err)
		}
	}
	for _, p := range list.Plugins {
		if _, err := invoke.FindInPath(p.Network.Type, o.BinDirs); err != nil {
			return nil, fmt.Errorf("%w: %q not found in %s (network %q from %s)", ErrNoPlugins, p.Network.Type, strings.Join(o.BinDirs, ":"), list.Name, src)
		}
	}
	return &Network{
		cni:     libcni.NewCNIConfigWithCacheDir(o.BinDirs, filepath.Join(o.StateDir, "cache"), nil),
		list:    list,
		Source:  src,
		records: filepath.Join(o.StateDir, "attachments"),
		log:     o.Logger,
	}, nil
}

// Name is the network list's name.
func (n *Network) Name() string { return n.list.Name }

// loadConfDir returns the first usable configuration in dir, or nil.
func loadConfDir(dir string) (*libcni.NetworkConfigList, string, error) {
	if dir == "" {
		return nil, "", nil
	}
	files, err := libcni.ConfFiles(dir, []string{".conflist", ".conf", ".json"})
	if err != nil {
		return nil, "", fmt.Errorf("read cni config directory %s: %w", dir, err)
	}
	sort.Strings(files)
	var errs []error
	for _, f := range files {
		var list *libcni.NetworkConfigList
		if strings.HasSuffix(f, ".conflist") {
			list, err = libcni.ConfListFromFile(f)
		} else {
			var conf *libcni.PluginConfig
			if conf, err = libcni.ConfFromFile(f); err == nil {
				list, err = libcni.ConfListFromConf(conf)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		if len(list.Plugins) == 0 {
			errs = append(errs, fmt.Errorf("%s: no plugins", f))
			continue
		}
		return list, f, nil
	}
	if len(errs) > 0 {
		return nil, "", fmt.Errorf("no usable cni config in %s: %w", dir, errors.Join(errs...))
	}
	return nil, "", nil
}

// DefaultConfList renders the daemon's own network: a bridge that is the
// pods' gateway and masquerades their egress, host-local addresses from
// cidr (allocations kept in dataDir), hairpin so a pod reaches itself
// through its own host port, and portmap for hostPort. The loopback
// interface is brought up when the namespace is made, so no loopback
// plugin is needed. configs/cni/10-minikubelet.conflist is this file with
// the defaults filled in.
func DefaultConfList(cidr, dataDir string) ([]byte, error) {
	if _, _, err := net.ParseCIDR(cidr); err != nil {
		return nil, fmt.Errorf("pod-cidr %q: %w", cidr, err)
	}
	return []byte(fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {
      "type": "portmap",
      "capabilities": {"portMappings": true}
    }
  ]
}
`, DefaultNetworkName, DefaultBridge, cidr, dataDir)), nil
}

// PortMapping is portmap's runtimeConfig entry.
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// PortMappings are the pod's hostPorts, as the kubelet hands them to CNI.
func PortMappings(pod *v1.Pod) []PortMapping {
	var out []PortMapping
	add := func(cs []v1.Container) {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := strings.ToLower(string(p.Protocol))
				if proto == "" {
					proto = "tcp"
				}
				out = append(out, PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto, HostIP: p.HostIP})
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

func runtimeConf(id, netns string, pod *v1.Pod) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: id,
		NetNS:       netns,
		IfName:      IfName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", id},
			{"K8S_POD_UID", string(pod.UID)},
		},
	}
	if pm := PortMappings(pod); len(pm) > 0 {
		rt.CapabilityArgs = map[string]interface{}{"portMappings": pm}
	}
	return rt
}

// Setup attaches the sandbox's network namespace and returns the pod's
// IPv4 address (or its first address when it has no IPv4 one). What a DEL
// needs is recorded before the ADD, so a daemon killed during the ADD
// leaves a record to DEL it from; a failed ADD is undone, and when that
// DEL fails too the record stays for Teardown to retry.
func (n *Network) Setup(ctx context.Context, id, netns string, pod *v1.Pod) (ip string, retErr error) {
	rt := runtimeConf(id, netns, pod)
	if err := n.writeRecord(id, rt); err != nil {
		return "", err
	}
	defer func() {
		if retErr == nil {
			return
		}
		if derr := n.cni.DelNetworkList(context.WithoutCancel(ctx), n.list, rt); derr != nil {
			n.log.Warn("roll back cni add; the attachment stays recorded for a later teardown", zap.String("sandbox", id), zap.Error(derr))
			return
		}
		if rerr := n.removeRecord(id); rerr != nil {
			n.log.Warn("remove cni attachment record", zap.String("sandbox", id), zap.Error(rerr))
		}
	}()
	res, err := n.cni.AddNetworkList(ctx, n.list, rt)
	if err != nil {
		return "", fmt.Errorf("cni add to network %q: %w", n.list.Name, err)
	}
	ip, err = resultIP(res)
	if err != nil {
		return "", fmt.Errorf("cni add to network %q: %w", n.list.Name, err)
	}
	return ip, nil
}

// resultIP picks the pod's address from a CNI result.
func resultIP(res types.Result) (string, error) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return "", fmt.Errorf("convert result: %w", err)
	}
	var first string
	for _, c := range r.IPs {
		if c.Address.IP == nil {
			continue
		}
		if c.Address.IP.To4() != nil {
			return c.Address.IP.String(), nil
		}
		if first == "" {
			first = c.Address.IP.String()
		}
	}
	if first == "" {
		return "", errors.New("result holds no IP address")
	}
	return first, nil
}

// Teardown detaches a sandbox from every network libcni's cache says it
// was attached to, with the cached configuration and port mappings, so
// it works after a daemon restart or a change of configuration. With
// nothing cached (a daemon killed during the ADD) it DELs from the
// daemon's own record of the attachment. The record goes only once every
// DEL succeeded, so a failed teardown can be retried, by this daemon or a
// later one. A sandbox with neither (never attached, or already detached)
// is a no-op. netns may be empty when the namespace is already gone;
// plugins then release what lives outside it (addresses, iptables rules).
func (n *Network) Teardown(ctx context.Context, id, netns string) error {
	atts, err := n.cni.GetCachedAttachments(id)
	if err != nil {
		return fmt.Errorf("read cni cache of %s: %w", id, err)
	}
	var errs []error
	for _, a := range atts {
		list, err := libcni.ConfListFromBytes(a.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("cached cni config of %s: %w", id, err))
			continue
		}
		rt := &libcni.RuntimeConf{
			ContainerID: id, NetNS: netns, IfName: a.IfName,
			Args: a.CniArgs, CapabilityArgs: a.CapabilityArgs,
		}
		if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
			errs = append(errs, fmt.Errorf("cni del from network %q: %w", list.Name, err))
		}
	}
	if len(atts) == 0 {
		rec, err := n.readRecord(id)
		switch {
		case err != nil:
			errs = append(errs, err)
		case rec != nil:
			if err := n.delRecorded(ctx, id, netns, rec); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return n.removeRecord(id)
}

// Attached returns the sandbox IDs the network may still hold something
// for: those in libcni's cache and those with a record of their own.
func (n *Network) Attached() ([]string, error) {
	atts, err := n.cni.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("read cni cache: %w", err)
	}
	ids, err := n.recordIDs()
	if err != nil {
		return nil, err
	}
	for _, a := range atts {
		ids = append(ids, a.ContainerID)
	}
	sort.Strings(ids)
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out, nil
}
