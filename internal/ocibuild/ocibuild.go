// Package ocibuild builds small OCI image archives in memory, with no
// registry and no Docker, for the pause image and test/demo images.
//
// An image is one layer made of [File] entries plus a [Config]; [WriteArchive]
// turns them into an OCI image-layout tar that containerd's client Import
// (and skopeo's oci-archive transport) accepts. The output is deterministic:
// fixed timestamps, root ownership and sorted entries, so the same inputs
// give the same manifest digest (for a given Go version, whose gzip encoder
// produces the compressed bytes).
package ocibuild

import (
	"io/fs"
	"os"
)

// File is one entry of the image's single layer.
type File struct {
	// Path is absolute in the image, e.g. "/pause". Missing parent
	// directories are added to the layer with mode 0755.
	Path string
	// Mode is the type and permission bits: 0755 for a regular file,
	// fs.ModeDir|0755 for a directory, fs.ModeSymlink for a symlink.
	// fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky map to the Unix
	// bits (fs.ModeDir|fs.ModeSticky|0777 is a /tmp); the raw Unix bits
	// 0o7000 are accepted too.
	Mode os.FileMode
	// Data is the content of a regular file; it must be empty otherwise.
	Data []byte
	// Link is the target of a symlink; it must be empty otherwise.
	Link string
}

// Config is the runnable part of the image configuration, as a Dockerfile
// would set it.
type Config struct {
	// Entrypoint and Cmd are the image's default command, as in
	// Kubernetes' command/args.
	Entrypoint, Cmd []string
	// Env holds "KEY=value" entries; see [DefaultPathEnv].
	Env []string
	// WorkingDir is the default working directory ("" means "/").
	WorkingDir string
	// User is "uid[:gid]" or a name from the image's /etc/passwd.
	User string
	// StopSignal is the signal that asks the process to stop, e.g.
	// "SIGQUIT"; empty means SIGTERM.
	StopSignal string
	// ExposedPorts lists "port/proto" entries such as "80/tcp".
	ExposedPorts []string
	// Labels are the image config labels.
	Labels map[string]string
}

// DefaultPathEnv is the conventional PATH of Linux images. Images built
// here carry no PATH unless the caller sets one; containerd then falls back
// to its own default, which other runtimes may not.
const DefaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// dirMode is the mode of directories created implicitly for a file's
// parents.
const dirMode = fs.ModeDir | 0o755
