// Package volume owns a pod's volumes on the node: it makes the ones that
// live in the pod's directory (emptyDir on disk or as a tmpfs, downwardAPI
// files) when the pod starts, checks hostPath volumes against their type,
// resolves each container's volumeMounts (subPath included) to host paths
// for the spec builder, and unmounts everything again so the pod's
// directory can be removed.
//
// Layout under a pod's directory, after the kubelet's:
//
//	volumes/empty-dir/<volume>                   emptyDir (a tmpfs for medium Memory)
//	volumes/downward-api/<volume>                downwardAPI and projected files
//	volume-subpaths/<volume>/<container>/<index> bind mounts of subPaths
package volume

import (
	"errors"
	"fmt"
	"path/filepath"

	v1 "k8s.io/api/core/v1"
)

// EmptyDirPath is where an emptyDir volume of the pod lives.
func EmptyDirPath(podDir, volume string) string {
	return filepath.Join(podDir, "volumes", "empty-dir", volume)
}

// DownwardAPIPath is where the files of a downwardAPI or projected volume
// are written.
func DownwardAPIPath(podDir, volume string) string {
	return filepath.Join(podDir, "volumes", "downward-api", volume)
}

// subPathTarget is the host mount point of the subPath of the index-th
// volumeMount of a container.
func subPathTarget(podDir, volume, container string, index int) string {
	return filepath.Join(podDir, "volume-subpaths", volume, container, fmt.Sprint(index))
}

// Setup makes the volumes that live in the pod's directory: emptyDirs
// (tmpfs mounts for medium Memory, owned by fsGroup) and the files of
// downwardAPI and projected volumes. It is idempotent and keeps what an
// emptyDir holds, so a new sandbox of the same pod sees the same data.
// hostPath volumes are checked when a container mounts them.
func Setup(pod *v1.Pod, podDir string) error {
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var err error
		switch {
		case v.EmptyDir != nil:
			err = setupEmptyDir(EmptyDirPath(podDir, v.Name), v.EmptyDir, memorySize(pod, v.EmptyDir), fsGroup)
		case v.DownwardAPI != nil:
			err = writeDownwardAPI(DownwardAPIPath(podDir, v.Name), pod, v.DownwardAPI.Items, *orDefault(v.DownwardAPI.DefaultMode, v1.DownwardAPIVolumeSourceDefaultMode), fsGroup)
		case v.Projected != nil:
			var items []v1.DownwardAPIVolumeFile
			for _, s := range v.Projected.Sources {
				if s.DownwardAPI != nil {
					items = append(items, s.DownwardAPI.Items...)
				}
			}
			err = writeDownwardAPI(DownwardAPIPath(podDir, v.Name), pod, items, *orDefault(v.Projected.DefaultMode, v1.ProjectedVolumeSourceDefaultMode), fsGroup)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Teardown unmounts everything mounted under the pod's volume
// directories (memory-backed emptyDirs, subPath binds, and whatever a
// Bidirectional mount propagated back), deepest first. It fails if
// anything is still mounted afterwards: removing the pod's directory then
// could reach through a subPath bind into a hostPath volume and delete
// the host's files.
func Teardown(podDir string) error {
	var errs []error
	for _, dir := range []string{filepath.Join(podDir, "volumes"), filepath.Join(podDir, "volume-subpaths")} {
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func orDefault(p *int32, def int32) *int32 {
	if p == nil {
		return &def
	}
	return p
}
