package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
)

// emptyDirMode is the kubelet's mode for an emptyDir: every user of every
// container may write to it (fsGroup adds setgid, so files made in it
// keep the group).
const emptyDirMode = 0o777

// setupEmptyDir makes an emptyDir: a directory, with a tmpfs mounted on it
// for medium Memory (size bytes when size > 0). Only a fresh directory
// (or a fresh tmpfs) gets its mode and fsGroup ownership, as the kubelet
// sets them once: afterwards they are the pod's to change.
func setupEmptyDir(dir string, ed *v1.EmptyDirVolumeSource, size int64, fsGroup *int64) error {
	switch ed.Medium {
	case v1.StorageMediumDefault, v1.StorageMediumMemory:
	default:
		return fmt.Errorf("emptyDir medium %q is not supported (use \"\" or Memory)", ed.Medium)
	}
	fresh := false
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		// The parents keep other host users out of the pod's volumes.
		if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
			return err
		}
		if err := os.Mkdir(dir, emptyDirMode); err != nil {
			return err
		}
		fresh = true
	} else if err != nil {
		return err
	}
	if ed.Medium == v1.StorageMediumMemory && !isMountPoint(dir) {
		// nosuid and nodev, unlike the kubelet: a scratch volume has no
		// business holding set-uid programs or device nodes.
		opts := "mode=0777"
		if size > 0 {
			opts += ",size=" + strconv.FormatInt(size, 10)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount tmpfs at %s: %w", dir, err)
		}
		fresh = true
	}
	if !fresh {
		return nil
	}
	// Chmod, not Mkdir's mode alone: the daemon's umask applies to that.
	mode := os.FileMode(emptyDirMode)
	if fsGroup != nil {
		if err := os.Lchown(dir, -1, int(*fsGroup)); err != nil {
			return fmt.Errorf("give %s to fsGroup %d: %w", dir, *fsGroup, err)
		}
		mode |= os.ModeSetgid
	}
	return os.Chmod(dir, mode)
}

// memorySize is the size of a memory-backed emptyDir as the kubelet
// computes it: sizeLimit, capped by the pod's memory limit when it has
// one; 0 (the kernel's default, half the RAM) when neither says.
func memorySize(pod *v1.Pod, ed *v1.EmptyDirVolumeSource) int64 {
	if ed.Medium != v1.StorageMediumMemory {
		return 0
	}
	size := podMemoryLimit(pod)
	if l := ed.SizeLimit; l != nil && l.Value() > 0 && (size == 0 || l.Value() < size) {
		size = l.Value()
	}
	return size
}

// podMemoryLimit is the memory the pod's cgroup may use: spec.resources,
// else what its containers' limits add up to (ContainersLimit).
func podMemoryLimit(pod *v1.Pod) int64 {
	if r := pod.Spec.Resources; r != nil {
		if q, ok := r.Limits[v1.ResourceMemory]; ok {
			return q.Value()
		}
	}
	return ContainersLimit(pod, v1.ResourceMemory)
}

// ContainersLimit is a pod's limit of a resource as its containers' limits
// make it: the sum of the app containers' and sidecars', at least the
// largest init container's; 0 when a container has no such limit.
func ContainersLimit(pod *v1.Pod, name v1.ResourceName) int64 {
	var sum, maxInit int64
	for _, c := range pod.Spec.Containers {
		q, ok := c.Resources.Limits[name]
		if !ok {
			return 0
		}
		sum += q.Value()
	}
	for _, c := range pod.Spec.InitContainers {
		q, ok := c.Resources.Limits[name]
		if !ok {
			return 0
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sum += q.Value()
		} else if q.Value() > maxInit {
			maxInit = q.Value()
		}
	}
	return max(sum, maxInit)
}
