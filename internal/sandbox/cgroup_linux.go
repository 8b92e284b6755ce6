package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// cgroupMount is where the cgroup hierarchies are mounted.
var cgroupMount = "/sys/fs/cgroup"

// removeCgroup removes a pod's cgroup directory in every hierarchy (one on
// cgroup v2; one per controller on v1). runc removes each container's own
// cgroup, but not the pod-level parent it created on the way.
func removeCgroup(rel string) error {
	var dirs []string
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err == nil {
		dirs = []string{filepath.Join(cgroupMount, rel)}
	} else {
		entries, err := os.ReadDir(cgroupMount)
		if err != nil {
			return fmt.Errorf("read cgroup mounts: %w", err)
		}
		for _, e := range entries {
			// Controllers mounted together appear once as a directory and
			// again as symlinks (cpu -> cpu,cpuacct).
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(cgroupMount, e.Name(), rel))
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
