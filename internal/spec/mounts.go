package spec

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

// Mount is one volumeMount of a container, already resolved to a path on
// the host by internal/volume (volume located, hostPath type checked,
// subPath resolved inside its volume). Building the OCI mount from it is
// pure.
type Mount struct {
	// Volume is the volume's name, for messages.
	Volume      string
	Destination string
	// Source is the host path bound at Destination.
	Source   string
	ReadOnly bool
	// RecursiveReadOnly makes the mounts below Source read-only too
	// (runc's "rro", kernel 5.12 or later); it implies ReadOnly.
	RecursiveReadOnly bool
	// Propagation is the volumeMount's mountPropagation; empty is None.
	Propagation v1.MountPropagationMode
}

// volumeMounts adds a container's volume mounts to s. A volume mounted
// where a default mount or one of the pod's files already is replaces it
// (and a volume at /dev replaces everything under /dev), as containerd's
// CRI plugin does, so a volume at /etc/hosts wins over the pod's file.
// Volume mounts go in by depth, parents first, so that a shallow mount
// never hides a deeper one whatever order the manifest lists them in.
func volumeMounts(s *specs.Spec, mounts []Mount, privileged bool) error {
	if len(mounts) == 0 {
		return nil
	}
	dsts := map[string]bool{}
	for _, m := range mounts {
		dsts[path.Clean(m.Destination)] = true
	}
	kept := make([]specs.Mount, 0, len(s.Mounts)+len(mounts))
	for _, m := range s.Mounts {
		dst := path.Clean(m.Destination)
		if dsts[dst] || (dsts["/dev"] && strings.HasPrefix(dst, "/dev/")) {
			continue
		}
		kept = append(kept, m)
	}
	ordered := append([]Mount(nil), mounts...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return depth(ordered[i].Destination) < depth(ordered[j].Destination)
	})
	for _, m := range ordered {
		opts := []string{"rbind"}
		switch m.Propagation {
		case "", v1.MountPropagationNone:
			opts = append(opts, "rprivate")
		case v1.MountPropagationHostToContainer:
			opts = append(opts, "rslave")
			// Mounts the host makes later only reach the volume if the
			// container's root does not cut propagation off above it.
			if s.Linux.RootfsPropagation != "rshared" {
				s.Linux.RootfsPropagation = "rslave"
			}
		case v1.MountPropagationBidirectional:
			// The API allows it only for privileged containers: mounts
			// made inside the container reach the host.
			if !privileged {
				return fmt.Errorf("volumeMount %q at %s: mountPropagation Bidirectional is only allowed in privileged containers", m.Volume, m.Destination)
			}
			opts = append(opts, "rshared")
			s.Linux.RootfsPropagation = "rshared"
		default:
			return fmt.Errorf("volumeMount %q at %s: unknown mountPropagation %q", m.Volume, m.Destination, m.Propagation)
		}
		switch {
		case m.RecursiveReadOnly:
			opts = append(opts, "rro")
		case m.ReadOnly:
			opts = append(opts, "ro")
		default:
			opts = append(opts, "rw")
		}
		kept = append(kept, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	s.Mounts = kept
	return nil
}

// depth is the number of elements in a container path ("/" is 1).
func depth(p string) int {
	return len(strings.Split(path.Clean(p), "/"))
}
