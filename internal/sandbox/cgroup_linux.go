package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// setPodPidsMax creates a pod's cgroup (rel) and caps the processes and
// threads of everything in it, the pause process included, as the
// kubelet's podPidsLimit does. It runs before the sandbox starts, so no
// process of the pod ever runs unbounded; runc then creates the
// containers' cgroups under it. On cgroup v2 the pids controller is
// enabled on the way down from the root; on v1 the pids hierarchy gets
// the directory.
func setPodPidsMax(rel string, limit int64) error {
	dir := filepath.Join(cgroupMount, "pids", rel)
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err == nil {
		dir = filepath.Join(cgroupMount, rel)
		parent := cgroupMount
		for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
			if err := enablePids(parent); err != nil {
				return err
			}
			parent = filepath.Join(parent, part)
			if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("create cgroup %s: %w", parent, err)
			}
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		return fmt.Errorf("set pids.max of cgroup %s: %w", dir, err)
	}
	return nil
}

// enablePids turns the pids controller on for the children of a cgroup v2
// directory, unless it is on already.
func enablePids(dir string) error {
	ctl := filepath.Join(dir, "cgroup.subtree_control")
	cur, err := os.ReadFile(ctl)
	if err != nil {
		return fmt.Errorf("read %s: %w", ctl, err)
	}
	if slices.Contains(strings.Fields(string(cur)), "pids") {
		return nil
	}
	if err := os.WriteFile(ctl, []byte("+pids"), 0o644); err != nil {
		return fmt.Errorf("enable the pids controller in %s: %w", dir, err)
	}
	return nil
}
