package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	v1 "k8s.io/api/core/v1"
)

// CheckHostPath checks a hostPath volume's path against its type, as the
// kubelet does before mounting it: DirectoryOrCreate makes a missing
// directory (0755, parents too), FileOrCreate a missing empty file (0644;
// its directory must exist), and every other type requires the path to be
// that kind of file. Symbolic links are followed. With no type, a missing
// path becomes a directory, as containerd's CRI plugin makes it.
//
// The messages start as the kubelet's ("hostPath type check failed: ...
// is not a directory") and add what the path is instead.
func CheckHostPath(path string, typ v1.HostPathType) error {
	fi, err := os.Stat(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("hostPath %s: %w", path, err)
	}
	switch typ {
	case v1.HostPathUnset:
		if missing {
			return mkdirAll(path)
		}
		return nil
	case v1.HostPathDirectoryOrCreate:
		if missing {
			return mkdirAll(path)
		}
		return want(path, fi, fi.IsDir(), "a directory")
	case v1.HostPathDirectory:
		return want(path, fi, !missing && fi.IsDir(), "a directory")
	case v1.HostPathFileOrCreate:
		if missing {
			// O_EXCL: never truncate a file that appeared meanwhile; the
			// parent is not made, as in the kubelet.
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return CheckHostPath(path, v1.HostPathFile)
			}
			if err != nil {
				return fmt.Errorf("hostPath type check failed: create %s: %w", path, err)
			}
			return f.Close()
		}
		return want(path, fi, fi.Mode().IsRegular(), "a file")
	case v1.HostPathFile:
		return want(path, fi, !missing && fi.Mode().IsRegular(), "a file")
	case v1.HostPathSocket:
		return want(path, fi, !missing && fi.Mode().Type() == fs.ModeSocket, "a socket file")
	case v1.HostPathCharDev:
		return want(path, fi, !missing && fi.Mode().Type() == fs.ModeDevice|fs.ModeCharDevice, "a character device")
	case v1.HostPathBlockDev:
		return want(path, fi, !missing && fi.Mode().Type() == fs.ModeDevice, "a block device")
	}
	return fmt.Errorf("hostPath %s: %q is an invalid hostPath type", path, typ)
}

func mkdirAll(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("hostPath type check failed: create directory %s: %w", path, err)
	}
	return nil
}

func want(path string, fi fs.FileInfo, ok bool, kind string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("hostPath type check failed: %s is not %s (%s)", path, kind, describe(fi))
}

// describe says what a file is, for messages; nil means it is missing.
func describe(fi fs.FileInfo) string {
	if fi == nil {
		return "it does not exist"
	}
	switch t := fi.Mode().Type(); {
	case fi.IsDir():
		return "it is a directory"
	case fi.Mode().IsRegular():
		return "it is a regular file"
	case t == fs.ModeSocket:
		return "it is a socket"
	case t == fs.ModeDevice|fs.ModeCharDevice:
		return "it is a character device"
	case t == fs.ModeDevice:
		return "it is a block device"
	case t == fs.ModeNamedPipe:
		return "it is a named pipe"
	}
	return "it is of mode " + fi.Mode().String()
}
