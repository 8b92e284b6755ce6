package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
)

// The volume tests: emptyDir (disk and memory), hostPath with its type
// checks, readOnly and subPath, each in a real container, and that a
// removed pod leaves no volume, mount or bind behind.

// waitLogContains waits until the container's log holds every marker and
// returns the log.
func (d *daemon) waitLogContains(pod, container string, markers ...string) string {
	d.t.Helper()
	var logs string
	d.waitFor(60*time.Second, fmt.Sprintf("log of %s/%s to show %q", pod, container, markers), func() (bool, string) {
		out, errOut, code := d.cli("logs", pod, "-c", container)
		logs = out
		if code != 0 {
			return false, "minikubelet logs: " + errOut
		}
		for _, m := range markers {
			if !strings.Contains(out, m) {
				return false, "log so far:\n" + out
			}
		}
		return true, ""
	})
	return logs
}

// waitWaiting waits until a container waits with reason and returns its
// message.
func (d *daemon) waitWaiting(pod, container, reason string) string {
	d.t.Helper()
	var msg string
	d.waitPod("default", pod, 60*time.Second, func(p *v1.Pod) (bool, string) {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == container && cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
				msg = cs.State.Waiting.Message
				return true, ""
			}
		}
		return false, summary(p)
	})
	return msg
}

// removeAndCheckClean removes the pod's manifest and waits until nothing
// of the pod is left: containers, mounts (tmpfs emptyDirs, subPath binds),
// the pod directory with its emptyDirs, cgroups.
func (d *daemon) removeAndCheckClean(manifest, name string, pod *v1.Pod) {
	d.t.Helper()
	uid := string(pod.UID)
	var ids []string
	for _, c := range d.podContainers(uid) {
		ids = append(ids, c.ID)
	}
	d.removeManifest(manifest)
	d.waitGone("default", name, 60*time.Second)
	d.waitFor(10*time.Second, "pod "+uid+" to leave nothing behind", func() (bool, string) {
		left := d.leftovers(uid, ids)
		return len(left) == 0, strings.Join(left, "; ")
	})
}

const emptyDirPod = `apiVersion: v1
kind: Pod
metadata:
  name: scratch
spec:
  terminationGracePeriodSeconds: 2
  securityContext:
    fsGroup: 2345
  volumes:
  - name: shared
    emptyDir: {}
  - name: mem
    emptyDir:
      medium: Memory
      sizeLimit: 16Mi
  containers:
  - name: writer
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "echo hello-from-writer > /shared/msg && exec sleep 3600"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
  - name: reader
    image: localhost/minikubelet/busybox:e2e
    command:
    - sh
    - -c
    - |
      i=0
      until [ -f /data/msg ]; do i=$((i+1)); [ $i -lt 120 ] || break; sleep 0.5; done
      echo got=$(cat /data/msg)
      echo perms=$(stat -c %a:%g /data)
      echo "mem=$(grep ' /mem ' /proc/mounts)"
      exec sleep 3600
    volumeMounts:
    - {name: shared, mountPath: /data}
    - {name: mem, mountPath: /mem}
`

// TestVolumeEmptyDir checks that an emptyDir written by one container is
// read by another, lives under the state directory, belongs to fsGroup
// with the kubelet's 2777, that medium Memory is a tmpfs of sizeLimit, and
// that all of it goes with the pod.
func TestVolumeEmptyDir(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("scratch.yaml", emptyDirPod)
	pod := d.waitRunning("default", "scratch")
	logs := d.waitLogContains("scratch", "reader", "got=", "mem=")
	for _, want := range []string{"got=hello-from-writer\n", "perms=2777:2345\n", "tmpfs /mem tmpfs ", "size=16384k"} {
		if !strings.Contains(logs, want) {
			t.Errorf("reader log lacks %q:\n%s", want, logs)
		}
	}
	dir := filepath.Join(d.stateDir, "pods", string(pod.UID), "volumes", "empty-dir")
	if b, err := os.ReadFile(filepath.Join(dir, "shared", "msg")); err != nil || string(b) != "hello-from-writer\n" {
		t.Errorf("emptyDir on the host: %q, %v", b, err)
	}
	mounts, err := mountsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0] != filepath.Join(dir, "mem") {
		t.Errorf("mounts under %s: %v, want the memory emptyDir's tmpfs only", dir, mounts)
	}
	d.removeAndCheckClean("scratch.yaml", "scratch", pod)
	if mounts, _ := mountsUnder(dir); len(mounts) > 0 {
		t.Errorf("tmpfs left after the pod: %v", mounts)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("emptyDirs left after the pod: %v", err)
	}
}

// hostPathPod mounts three hostPath volumes under dir.
func hostPathPod(dir string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostpath
spec:
  restartPolicy: Never
  volumes:
  - name: greeting
    hostPath: {path: %[1]s/greeting, type: File}
  - name: made
    hostPath: {path: %[1]s/made/here, type: DirectoryOrCreate}
  - name: log
    hostPath: {path: %[1]s/created.log, type: FileOrCreate}
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command:
    - sh
    - -c
    - |
      echo "read=$(cat /greeting)"
      if echo x >> /greeting 2>/dev/null; then echo write=ok; else echo write=refused; fi
      echo from-container > /made/out
      echo logged >> /log
      if touch /made-rro/x 2>/dev/null; then echo rro=writable; else echo rro=refused; fi
    volumeMounts:
    - {name: greeting, mountPath: /greeting, readOnly: true}
    - {name: made, mountPath: /made}
    - {name: log, mountPath: /log}
    - {name: made, mountPath: /made-rro, readOnly: true, recursiveReadOnly: Enabled}
`, dir)
}

// TestVolumeHostPath checks a hostPath file visible read-only (a write
// fails), that DirectoryOrCreate and FileOrCreate make what they name on
// the host, writable from the container, and a recursively read-only
// mount (runc's rro).
func TestVolumeHostPath(t *testing.T) {
	d := startDaemon(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "greeting"), []byte("hello-from-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.writeManifest("hostpath.yaml", hostPathPod(host))
	pod := d.waitPhase("default", "hostpath", v1.PodSucceeded, 60*time.Second)
	logs := d.mustCLI("logs", "hostpath", "-c", "main")
	for _, want := range []string{"read=hello-from-host\n", "write=refused\n", "rro=refused\n"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for file, want := range map[string]string{"greeting": "hello-from-host", "made/here/out": "from-container\n", "created.log": "logged\n"} {
		if b, err := os.ReadFile(filepath.Join(host, file)); err != nil || string(b) != want {
			t.Errorf("host %s: %q, %v; want %q", file, b, err, want)
		}
	}
	d.removeAndCheckClean("hostpath.yaml", "hostpath", pod)
	if _, err := os.Stat(filepath.Join(host, "made", "here", "out")); err != nil {
		t.Errorf("removing the pod touched the hostPath volume: %v", err)
	}
}

// TestVolumeHostPathTypeChecks checks that a hostPath that is not what
// its type says keeps the container waiting with
// CreateContainerConfigError and the reason, while the others run.
func TestVolumeHostPathTypeChecks(t *testing.T) {
	d := startDaemon(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.writeManifest("types.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: types
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: nodir
    hostPath: {path: %[1]s/missing, type: Directory}
  - name: nosock
    hostPath: {path: %[1]s/plain, type: Socket}
  - name: chardev
    hostPath: {path: /dev/null, type: CharDevice}
  containers:
  - name: dir
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
    volumeMounts: [{name: nodir, mountPath: /d}]
  - name: sock
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
    volumeMounts: [{name: nosock, mountPath: /s}]
  - name: ok
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
    volumeMounts: [{name: chardev, mountPath: /null}]
`, host))
	for c, want := range map[string]string{
		"dir":  fmt.Sprintf(`volume "nodir": hostPath type check failed: %s/missing is not a directory (it does not exist)`, host),
		"sock": fmt.Sprintf(`volume "nosock": hostPath type check failed: %s/plain is not a socket file (it is a regular file)`, host),
	} {
		if msg := d.waitWaiting("types", c, "CreateContainerConfigError"); msg != want {
			t.Errorf("container %s waits with %q, want %q", c, msg, want)
		}
	}
	pod := d.waitPod("default", "types", 60*time.Second, func(p *v1.Pod) (bool, string) {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "ok" && cs.State.Running != nil {
				return true, ""
			}
		}
		return false, summary(p)
	})
	if _, err := os.Stat(filepath.Join(host, "missing")); err == nil {
		t.Error("type Directory made the missing directory")
	}
	d.removeAndCheckClean("types.yaml", "types", pod)
}

const subPathPod = `apiVersion: v1
kind: Pod
metadata:
  name: subpath
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: vol
    emptyDir: {}
  initContainers:
  - name: fill
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "mkdir -p /vol/a /vol/b && echo in-a > /vol/a/file-a && echo in-b > /vol/b/file-b && ln -s / /vol/escape"]
    volumeMounts: [{name: vol, mountPath: /vol}]
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "echo sub=$(ls /sub | tr '\\n' ,); echo created=$(ls -a /created | tr '\\n' ,); exec sleep 3600"]
    volumeMounts:
    - {name: vol, mountPath: /sub, subPath: a}
    - {name: vol, mountPath: /created, subPath: new/dir}
  - name: escaper
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
    volumeMounts:
    - {name: vol, mountPath: /host-root, subPath: escape}
`

// TestVolumeSubPath checks that a subPath mounts only its sub-directory,
// that a missing one is made in the emptyDir, and that a symbolic link a
// container planted pointing out of the volume is refused, not followed
// to the host's root. The subPath binds go with the pod.
func TestVolumeSubPath(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("subpath.yaml", subPathPod)
	logs := d.waitLogContains("subpath", "main", "created=")
	if !strings.Contains(logs, "sub=file-a,\n") {
		t.Errorf("subPath a should show file-a only; log:\n%s", logs)
	}
	if !strings.Contains(logs, "created=.,..,\n") {
		t.Errorf("subPath new/dir should be an empty new directory; log:\n%s", logs)
	}
	msg := d.waitWaiting("subpath", "escaper", "CreateContainerConfigError")
	if !strings.Contains(msg, `subPath "escape" resolves to /, outside the volume`) {
		t.Errorf("escaper waits with %q, want the subPath refused", msg)
	}
	pod, err := d.getPod("default", "subpath")
	if err != nil {
		t.Fatal(err)
	}
	podDir := filepath.Join(d.stateDir, "pods", string(pod.UID))
	if fi, err := os.Stat(filepath.Join(podDir, "volumes", "empty-dir", "vol", "new", "dir")); err != nil || !fi.IsDir() {
		t.Errorf("subPath new/dir not made in the emptyDir: %v", err)
	}
	if mounts, _ := mountsUnder(filepath.Join(podDir, "volume-subpaths")); len(mounts) != 2 {
		t.Errorf("subPath binds %v, want 2 (main's two mounts)", mounts)
	}
	d.removeAndCheckClean("subpath.yaml", "subpath", pod)
}

// propagationMount bind-mounts dir onto itself with the given propagation
// (unix.MS_SHARED or unix.MS_PRIVATE), undone when the test ends.
func propagationMount(t *testing.T, dir string, propagation uintptr) {
	t.Helper()
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unmountUnder(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", propagation|unix.MS_REC, ""); err != nil {
		t.Fatalf("set propagation of %s: %v", dir, err)
	}
}

// TestVolumeMountPropagation checks HostToContainer (a mount the host
// makes later shows in the container), Bidirectional from a privileged
// container (its mount shows on the host), and that HostToContainer on a
// private mount is refused instead of silently not propagating.
func TestVolumeMountPropagation(t *testing.T) {
	d := startDaemon(t)
	shared, private := t.TempDir(), t.TempDir()
	propagationMount(t, shared, unix.MS_SHARED)
	propagationMount(t, private, unix.MS_PRIVATE)
	d.writeManifest("propagation.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: propagation
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: shared
    hostPath: {path: %s, type: Directory}
  - name: private
    hostPath: {path: %s, type: Directory}
  containers:
  - name: watcher
    image: localhost/minikubelet/busybox:e2e
    command:
    - sh
    - -c
    - |
      echo watching
      i=0
      until [ -f /watch/fromhost/marker ]; do i=$((i+1)); [ $i -lt 240 ] || break; sleep 0.5; done
      echo seen=$(cat /watch/fromhost/marker)
      exec sleep 3600
    volumeMounts: [{name: shared, mountPath: /watch, mountPropagation: HostToContainer}]
  - name: mounter
    image: localhost/minikubelet/busybox:e2e
    securityContext: {privileged: true}
    command: ["sh", "-c", "mkdir -p /share/fromcontainer && mount -t tmpfs tmpfs /share/fromcontainer && echo hi > /share/fromcontainer/m && echo mounted; exec sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /share, mountPropagation: Bidirectional}]
  - name: private
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
    volumeMounts: [{name: private, mountPath: /p, mountPropagation: HostToContainer}]
`, shared, private))
	d.waitLogContains("propagation", "watcher", "watching")
	d.waitLogContains("propagation", "mounter", "mounted")

	fromHost := filepath.Join(shared, "fromhost")
	if err := os.Mkdir(fromHost, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", fromHost, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fromHost, "marker"), []byte("yes"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.waitLogContains("propagation", "watcher", "seen=yes")

	d.waitFor(20*time.Second, "the container's mount to reach the host", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(shared, "fromcontainer", "m"))
		return err == nil && string(b) == "hi\n", fmt.Sprintf("%q, %v", b, err)
	})
	if msg := d.waitWaiting("propagation", "private", "CreateContainerConfigError"); !strings.Contains(msg, "is not a shared or slave mount") {
		t.Errorf("HostToContainer on a private mount: waiting message %q", msg)
	}
	pod, err := d.getPod("default", "propagation")
	if err != nil {
		t.Fatal(err)
	}
	d.removeAndCheckClean("propagation.yaml", "propagation", pod)
}
