package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckSubPath refuses a subPath that names something outside its volume
// by itself: an absolute path or one with a ".." element (the API's rule).
func CheckSubPath(sub string) error {
	if path.IsAbs(sub) {
		return fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, e := range strings.Split(sub, "/") {
		if e == ".." {
			return fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	return nil
}

// ResolveSubPath returns the real host path of sub inside the volume at
// root. Symbolic links are followed, but only as long as they stay inside
// the volume: a container can write links into its volumes, and one
// pointing at / must not hand the host's root to the next container that
// mounts the sub-path. With create, missing directories are made (with
// the mode of the volume's root, as the kubelet does, so an fsGroup
// volume's sub-directories stay group-writable).
func ResolveSubPath(root, sub string, create bool) (string, error) {
	_, real, err := resolveSubPath(root, sub, create)
	return real, err
}

func resolveSubPath(root, sub string, create bool) (realRoot, real string, err error) {
	if err := CheckSubPath(sub); err != nil {
		return "", "", err
	}
	if realRoot, err = filepath.EvalSymlinks(root); err != nil {
		return "", "", fmt.Errorf("volume root: %w", err)
	}
	if create {
		if err := makeSubDirs(realRoot, sub); err != nil {
			return "", "", fmt.Errorf("create subPath %q: %w", sub, err)
		}
	}
	real, err = filepath.EvalSymlinks(filepath.Join(realRoot, sub))
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("subPath %q does not exist in the volume", sub)
	}
	if err != nil {
		return "", "", fmt.Errorf("subPath %q: %w", sub, err)
	}
	if !within(realRoot, real) {
		return "", "", fmt.Errorf("subPath %q resolves to %s, outside the volume (through a symbolic link)", sub, real)
	}
	return realRoot, real, nil
}

// makeSubDirs makes the missing directories of sub under realRoot. The
// part that exists must resolve inside the volume; the rest is made with
// mkdirat from a descriptor opened without following links, so a link
// swapped in meanwhile makes it fail instead of creating (or chmod-ing)
// something outside.
func makeSubDirs(realRoot, sub string) error {
	var elems []string
	for _, e := range strings.Split(path.Clean(sub), "/") {
		if e != "" && e != "." {
			elems = append(elems, e)
		}
	}
	// The longest prefix that exists (links followed).
	n := len(elems)
	for ; n > 0; n-- {
		if _, err := os.Stat(filepath.Join(realRoot, filepath.Join(elems[:n]...))); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if n == len(elems) {
		return nil
	}
	existing, err := filepath.EvalSymlinks(filepath.Join(append([]string{realRoot}, elems[:n]...)...))
	if err != nil {
		return err
	}
	if !within(realRoot, existing) {
		return fmt.Errorf("%s resolves to %s, outside the volume", filepath.Join(elems[:n]...), existing)
	}
	st, err := os.Stat(realRoot)
	if err != nil {
		return err
	}
	mode := uint32(st.Mode().Perm())
	if st.Mode()&os.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	fd, err := openNoFollow(realRoot, existing)
	if err != nil {
		return err
	}
	for _, e := range elems[n:] {
		if err := unix.Mkdirat(fd, e, mode&0o777); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return fmt.Errorf("mkdir %s: %w", e, err)
		}
		child, err := unix.Openat(fd, e, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("open %s: %w", e, err)
		}
		// mkdirat's mode went through the umask.
		if err := unix.Fchmod(child, mode); err != nil {
			unix.Close(child)
			return fmt.Errorf("chmod %s: %w", e, err)
		}
		fd = child
	}
	return unix.Close(fd)
}

// openNoFollow opens real (a path at or below realRoot) one element at a
// time with O_NOFOLLOW, returning an O_PATH descriptor. It fails if any
// element has become a symbolic link since real was resolved.
func openNoFollow(realRoot, real string) (int, error) {
	rel, err := filepath.Rel(realRoot, real)
	if err != nil || !within(realRoot, real) {
		return -1, fmt.Errorf("%s is outside %s", real, realRoot)
	}
	fd, err := unix.Open(realRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", realRoot, err)
	}
	if rel == "." {
		return fd, nil
	}
	for _, e := range strings.Split(rel, "/") {
		child, err := unix.Openat(fd, e, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", e, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(child, &st); err != nil {
			unix.Close(child)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(child)
			return -1, fmt.Errorf("%s changed into a symbolic link while being mounted", filepath.Join(realRoot, e))
		}
		fd = child
	}
	return fd, nil
}

// bindSubPath bind-mounts real (inside realRoot) at target, through a
// descriptor opened without following links, as the kubelet does for
// subPaths (CVE-2017-1002101, CVE-2021-25741): runc then mounts target, a
// mount point no container can swap for a link. An earlier bind at target
// (a previous attempt of the container) is replaced.
func bindSubPath(realRoot, real, target string) error {
	fd, err := openNoFollow(realRoot, real)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if err := unmountUnder(target); err != nil {
		return err
	}
	// Nothing is mounted there any more, so this removes at most an empty
	// directory or file of ours.
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace subPath mount point: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o750)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("subPath mount point: %w", err)
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", real, target, err)
	}
	return nil
}
