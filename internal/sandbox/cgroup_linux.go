package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/minikubelet/minikubelet/internal/spec"
)

// cgroupMount is where the cgroup hierarchies are mounted.
var cgroupMount = "/sys/fs/cgroup"

// cgroupHierarchies returns the root of every hierarchy: one on cgroup
// v2, one per controller on v1.
func cgroupHierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err == nil {
		return []string{cgroupMount}, nil
	}
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		// Controllers mounted together appear once as a directory and
		// again as symlinks (cpu -> cpu,cpuacct).
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(cgroupMount, e.Name()))
		}
	}
	return dirs, nil
}

// removeCgroup removes a pod's cgroup directory in every hierarchy, with
// any child cgroup left in it (deepest first). runc removes each
// container's own cgroup, but not the pod-level parent it created on the
// way; a container removed behind the daemon's back can leave its own
// too. A cgroup that still has processes is not removed (rmdir fails).
func removeCgroup(rel string) error {
	roots, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range roots {
		if err := rmdirTree(filepath.Join(r, rel)); err != nil {
			errs = append(errs, err)
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

// rmdirTree removes a cgroup directory and the cgroups below it. Only
// directories are removed (rmdir): a cgroup's control files go with it.
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// PodCgroupUIDs returns the UIDs of the pods that have a cgroup in the
// daemon's layout (spec.PodCgroup), in any hierarchy.
func PodCgroupUIDs() ([]string, error) {
	roots, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range roots {
		for _, parent := range []string{"", "burstable", "besteffort"} {
			entries, err := os.ReadDir(filepath.Join(r, path.Join(spec.CgroupRoot, parent)))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read pod cgroups: %w", err)
			}
			for _, e := range entries {
				if uid, ok := strings.CutPrefix(e.Name(), "pod"); ok && uid != "" && e.IsDir() {
					seen[uid] = true
				}
			}
		}
	}
	uids := make([]string, 0, len(seen))
	for uid := range seen {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	return uids, nil
}
