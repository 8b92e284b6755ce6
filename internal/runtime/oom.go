package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/containerd/containerd/v2/core/containers"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// oomKilled reports whether the kernel's OOM killer killed a process in the
// container's own cgroup, from the kernel's counter, which stays until the
// task is deleted. Reading it when the exit is recorded makes the reason
// independent of the order in which containerd's exit and OOM events
// arrive: under load the exit can come first, and the status would say
// Error for a container the kernel killed for memory.
func oomKilled(root string, info containers.Container) (bool, error) {
	if info.Spec == nil {
		return false, nil
	}
	var s specs.Spec
	if err := json.Unmarshal(info.Spec.GetValue(), &s); err != nil {
		return false, fmt.Errorf("decode spec of container %s: %w", info.ID, err)
	}
	if s.Linux == nil || s.Linux.CgroupsPath == "" {
		return false, nil
	}
	n, err := oomKills(root, s.Linux.CgroupsPath)
	return n > 0, err
}

// oomKills reads the oom_kill count of the cgroup at rel (a cgroupfs path
// as the daemon's specs set it): memory.events on cgroup v2,
// memory.oom_control in the memory hierarchy on v1 (kernels since 4.13
// have the line). A cgroup that is gone counts none.
func oomKills(root, rel string) (uint64, error) {
	file := filepath.Join(root, rel, "memory.events")
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		file = filepath.Join(root, "memory", rel, "memory.oom_control")
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read OOM kill count: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("oom_kill ")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s: %w", file, err)
			}
			return n, nil
		}
	}
	return 0, nil
}
