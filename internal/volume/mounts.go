package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/spec"
)

// ContainerMounts resolves a container's volumeMounts to host paths for
// spec.ContainerSpec: it finds each volume (made by Setup), checks
// hostPath volumes against their type (creating what DirectoryOrCreate
// and FileOrCreate ask for), resolves and bind-mounts subPath and
// subPathExpr inside their volume, and checks that the volume's mount
// can propagate as mountPropagation asks. Its errors name the volume and
// become the container's CreateContainerConfigError.
func ContainerMounts(pod *v1.Pod, c *v1.Container, podDir string) ([]spec.Mount, error) {
	if len(c.VolumeMounts) == 0 {
		return nil, nil
	}
	vols := make(map[string]*v1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var table []mountInfo
	out := make([]spec.Mount, 0, len(c.VolumeMounts))
	for i, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no volume of that name in the pod", vm.Name)
		}
		src, readOnly, create, err := volumeSource(v, podDir)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", vm.Name, err)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			if sub, err = expandSubPathExpr(pod, c, vm.SubPathExpr); err != nil {
				return nil, fmt.Errorf("volumeMount %q: subPathExpr %q: %w", vm.Name, vm.SubPathExpr, err)
			}
		}
		real := src
		if sub != "" {
			realRoot, r, err := resolveSubPath(src, sub, create)
			if err != nil {
				return nil, fmt.Errorf("volumeMount %q: %w", vm.Name, err)
			}
			real = r
			target := subPathTarget(podDir, vm.Name, c.Name, i)
			if err := bindSubPath(realRoot, r, target); err != nil {
				return nil, fmt.Errorf("volumeMount %q: subPath %q: %w", vm.Name, sub, err)
			}
			src = target
		}
		prop := v1.MountPropagationNone
		if vm.MountPropagation != nil {
			prop = *vm.MountPropagation
		}
		if prop == v1.MountPropagationHostToContainer || prop == v1.MountPropagationBidirectional {
			if table == nil {
				if table, err = readMountInfo(); err != nil {
					return nil, fmt.Errorf("read mount table: %w", err)
				}
			}
			if err := checkPropagation(table, real, prop == v1.MountPropagationBidirectional); err != nil {
				return nil, fmt.Errorf("volumeMount %q: mountPropagation %s: %w", vm.Name, prop, err)
			}
		}
		out = append(out, spec.Mount{
			Volume:            vm.Name,
			Destination:       vm.MountPath,
			Source:            src,
			ReadOnly:          vm.ReadOnly || readOnly,
			RecursiveReadOnly: recursiveReadOnly(vm),
			Propagation:       prop,
		})
	}
	return out, nil
}

// recursiveReadOnly decides runc's "rro" for a volumeMount: Enabled asks
// for it (runc then fails the container where the kernel cannot do it,
// as the API wants), IfPossible only where the kernel has mount_setattr
// (Linux 5.12), which is what runc needs.
func recursiveReadOnly(vm v1.VolumeMount) bool {
	if vm.RecursiveReadOnly == nil || !vm.ReadOnly {
		return false
	}
	switch *vm.RecursiveReadOnly {
	case v1.RecursiveReadOnlyEnabled:
		return true
	case v1.RecursiveReadOnlyIfPossible:
		return kernelHasMountSetattr()
	}
	return false
}

// kernelHasMountSetattr probes mount_setattr(2) with a bad descriptor:
// EBADF means the call exists, ENOSYS that it does not.
var kernelHasMountSetattr = sync.OnceValue(func() bool {
	err := unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
})

// volumeSource returns where a volume is on the host, whether it is
// always read-only, and whether missing subPaths in it are made.
func volumeSource(v *v1.Volume, podDir string) (src string, readOnly, create bool, err error) {
	switch {
	case v.EmptyDir != nil:
		p := EmptyDirPath(podDir, v.Name)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			return "", false, false, fmt.Errorf("emptyDir is not set up at %s", p)
		}
		return p, false, true, nil
	case v.HostPath != nil:
		typ := v1.HostPathUnset
		if v.HostPath.Type != nil {
			typ = *v.HostPath.Type
		}
		if err := CheckHostPath(v.HostPath.Path, typ); err != nil {
			return "", false, false, err
		}
		// The link resolved now, as containerd's CRI plugin does, so that
		// runc binds what was checked.
		p, err := filepath.EvalSymlinks(v.HostPath.Path)
		if err != nil {
			return "", false, false, err
		}
		return p, false, true, nil
	case v.DownwardAPI != nil, v.Projected != nil:
		p := DownwardAPIPath(podDir, v.Name)
		if _, err := os.Stat(p); err != nil {
			return "", false, false, fmt.Errorf("downwardAPI files are not written at %s", p)
		}
		// Always read-only, as in the kubelet: the files are the pod's
		// metadata, not scratch space.
		return p, true, false, nil
	}
	return "", false, false, fmt.Errorf("volume type not supported by minikubelet (supported: emptyDir, hostPath, downwardAPI, projected downwardAPI)")
}

// expandSubPathExpr expands $(VAR) from the container's environment as
// the kubelet does: a variable that is missing or empty is an error, and
// the result is a subPath like any other.
func expandSubPathExpr(pod *v1.Pod, c *v1.Container, expr string) (string, error) {
	env, err := spec.Env(spec.Container{Pod: pod, Container: c})
	if err != nil {
		return "", err
	}
	vals := map[string]string{}
	for _, kv := range env {
		k, val, _ := strings.Cut(kv, "=")
		vals[k] = val
	}
	missing := map[string]bool{}
	out := spec.Expand(expr, func(name string) (string, bool) {
		val := vals[name]
		if val == "" {
			missing[name] = true
		}
		return val, true
	})
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("missing value for %s", strings.Join(names, ", "))
	}
	if err := CheckSubPath(out); err != nil {
		return "", err
	}
	return out, nil
}
