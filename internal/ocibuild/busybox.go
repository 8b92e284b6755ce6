package ocibuild

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// busyboxListTimeout bounds `busybox --list`, which answers instantly;
// anything slower means the binary is not what it claims to be.
const busyboxListTimeout = 10 * time.Second

// busyboxPasswd and busyboxGroup hold root and nobody: enough for
// runAsUser/runAsGroup tests and for applets that look users up. Home
// directories stay out of the image (nobody's does not exist by design).
const (
	busyboxPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	busyboxGroup = "root:x:0:\n" +
		"nobody:x:65534:\n"
)

// BusyboxFiles returns the files of a busybox image built from the static
// busybox binary at busyboxPath: /bin/busybox, one /bin symlink per applet
// the binary reports with `busybox --list`, /etc/passwd and /etc/group with
// root and nobody (65534), /root, /tmp (mode 1777) and /var/www (httpd's
// default document root).
//
// The image has no /etc/hostname, /etc/hosts or /etc/resolv.conf: the
// runtime mounts the pod's own. The binary must be static and for the
// image's architecture, since it is run here to list its applets.
//
// Use it with a Config such as {Cmd: ["sh"], Env: [DefaultPathEnv]}.
func BusyboxFiles(busyboxPath string) ([]File, error) {
	bin, err := readStaticBinary(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	applets, err := busyboxApplets(busyboxPath)
	if err != nil {
		return nil, err
	}
	files := []File{
		{Path: "/bin/busybox", Mode: 0o755, Data: bin},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(busyboxPasswd)},
		{Path: "/etc/group", Mode: 0o644, Data: []byte(busyboxGroup)},
		{Path: "/root", Mode: fs.ModeDir | 0o700},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/var/www", Mode: fs.ModeDir | 0o755},
	}
	// All applets go to /bin, as the official busybox image has them,
	// rather than to the /usr/sbin etc. of `--list-full`: one directory
	// on PATH finds them all, and "/bin/sh" is where manifests look.
	// The relative target keeps the links valid wherever the rootfs is
	// mounted.
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		files = append(files, File{Path: "/bin/" + a, Mode: fs.ModeSymlink | 0o777, Link: "busybox"})
	}
	return files, nil
}

// busyboxApplets runs `busybox --list` and returns the applet names,
// sorted and unique.
func busyboxApplets(busyboxPath string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), busyboxListTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, busyboxPath, "--list")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("busybox: %s --list: %w: %s", busyboxPath, err, strings.TrimSpace(stderr.String()))
	}
	seen := make(map[string]bool)
	var applets []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		a := strings.TrimSpace(line)
		if a == "" || seen[a] {
			continue
		}
		if strings.ContainsAny(a, "/ \t") || a == "." || a == ".." {
			return nil, fmt.Errorf("busybox: %s --list: unexpected applet name %q", busyboxPath, a)
		}
		seen[a] = true
		applets = append(applets, a)
	}
	if !seen["sh"] {
		// Every exec probe, hook and demo manifest relies on a shell.
		return nil, fmt.Errorf("busybox: %s has no sh applet", busyboxPath)
	}
	sort.Strings(applets)
	return applets, nil
}
