package volume

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountInfo is the part of a /proc/self/mountinfo line this package uses.
type mountInfo struct {
	MountPoint string
	// Optional holds the optional fields: "shared:N", "master:N", ...
	Optional []string
}

// parseMountInfo reads mountinfo lines (proc(5)): the mount point is the
// fifth field, octal-escaped; optional fields run up to a lone "-".
func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	var out []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		m := mountInfo{MountPoint: unescapeOctal(f[4])}
		for _, o := range f[6:] {
			if o == "-" {
				break
			}
			m.Optional = append(m.Optional, o)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// unescapeOctal undoes the kernel's \ooo escaping of spaces, tabs,
// newlines and backslashes in mount points.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readMountInfo reads the daemon's own mount table.
func readMountInfo() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountInfo(f)
}

// within reports whether p is dir or below it (both clean and absolute).
func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// mountOf returns the mount p is on: the one with the longest mount point
// that contains it.
func mountOf(mounts []mountInfo, p string) (mountInfo, bool) {
	var best mountInfo
	found := false
	for _, m := range mounts {
		if within(m.MountPoint, p) && (!found || len(m.MountPoint) >= len(best.MountPoint)) {
			best, found = m, true
		}
	}
	return best, found
}

// checkPropagation makes sure mounts made on the host under src can reach
// a container (HostToContainer: src's mount must be shared or a slave)
// and the other way round (Bidirectional: shared), as containerd's CRI
// plugin checks; otherwise the propagation asked for would silently not
// happen.
func checkPropagation(mounts []mountInfo, src string, bidirectional bool) error {
	m, ok := mountOf(mounts, src)
	if !ok {
		return fmt.Errorf("no mount found for %s", src)
	}
	for _, o := range m.Optional {
		if strings.HasPrefix(o, "shared:") || (!bidirectional && strings.HasPrefix(o, "master:")) {
			return nil
		}
	}
	if bidirectional {
		return fmt.Errorf("path %q is mounted on %q but it is not a shared mount (make it one with `mount --make-rshared %s`)", src, m.MountPoint, m.MountPoint)
	}
	return fmt.Errorf("path %q is mounted on %q but it is not a shared or slave mount (make it one with `mount --make-rshared %s`)", src, m.MountPoint, m.MountPoint)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(mounts []mountInfo, dir string) []string {
	var out []string
	for _, m := range mounts {
		if within(dir, m.MountPoint) {
			out = append(out, m.MountPoint)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unmountUnder detaches every mount at or below dir and fails if any is
// left. A missing dir has nothing mounted.
func unmountUnder(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// Stacked mounts on one point need one unmount each; a few rounds
	// also catch mounts that appear while unmounting.
	for round := 0; round < 8; round++ {
		mounts, err := readMountInfo()
		if err != nil {
			return fmt.Errorf("read mount table: %w", err)
		}
		left := mountsUnder(mounts, real)
		if len(left) == 0 {
			return nil
		}
		for _, p := range left {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmount %s: %w", p, err)
			}
		}
	}
	return fmt.Errorf("mounts are left under %s", dir)
}

// isMountPoint reports whether p is the root of a mount (its device
// differs from its parent's), which is how an emptyDir's tmpfs is found
// without reading the mount table.
func isMountPoint(p string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(p, &st) != nil || unix.Stat(filepath.Dir(p), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
