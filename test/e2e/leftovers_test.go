package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// leftoverPod is a pod with a hostPort, a memory emptyDir (a tmpfs under
// its pod dir, beside /dev/shm) and a termination-message file.
func leftoverPod(name string, hostPort int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: net
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: scratch, emptyDir: {medium: Memory}}]
  containers:
  - name: c
    image: localhost/minikubelet/busybox:e2e
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
    ports:
    - containerPort: 80
      hostPort: %d
`, name, hostPort)
}

// podTrace is what a running pod has on the node, to look for after it
// should be gone.
type podTrace struct {
	name, uid, sandbox, ip string
}

func (d *daemon) trace(name string) podTrace {
	d.t.Helper()
	p := d.waitRunning("net", name)
	tr := podTrace{name: name, uid: string(p.UID), ip: podIPIn(d.t, p)}
	for _, c := range d.podContainers(tr.uid) {
		if c.Labels["io.minikubelet.kind"] == "sandbox" {
			tr.sandbox = c.ID
		}
	}
	if tr.sandbox == "" {
		d.t.Fatalf("pod %s has no sandbox container", name)
	}
	return tr
}

// removeBehindBack deletes a pod's tasks and containers straight from
// containerd, as an operator's `ctr` or a lost containerd database would,
// with no CNI DEL, unmount or cgroup removal.
func (d *daemon) removeBehindBack(uid string) {
	d.t.Helper()
	cs := d.podContainers(uid)
	// App containers first, then the sandbox.
	for pass := 0; pass < 2; pass++ {
		for _, c := range cs {
			if (c.Labels["io.minikubelet.kind"] == "sandbox") != (pass == 1) {
				continue
			}
			_, _ = d.env.containerd.ctr(d.ns, "tasks", "rm", "-f", c.ID)
			if out, err := d.env.containerd.ctr(d.ns, "containers", "rm", c.ID); err != nil {
				d.t.Fatalf("ctr containers rm %s: %v\n%s", c.ID, err, out)
			}
		}
	}
}

// sandboxTraces lists what is left of a sandbox's network: its namespace
// pin, host-local leases naming it, NAT rules naming it (portmap's DNAT,
// the bridge's masquerade; their comments carry the sandbox ID), and
// libcni cache and record entries.
func (d *daemon) sandboxTraces(dataDir, id string) []string {
	var left []string
	if _, err := os.Lstat(filepath.Join(d.stateDir, "netns", id)); err == nil {
		left = append(left, "netns pin "+id)
	}
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dataDir, e.Name())); err == nil && strings.Contains(string(b), id) {
			left = append(left, "ipam lease "+e.Name())
		}
	}
	if haveIPTables() {
		out, _ := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, id) {
				left = append(left, "iptables "+l)
			}
		}
	}
	for _, sub := range []string{"cni/cache/results", "cni/attachments"} {
		entries, _ := os.ReadDir(filepath.Join(d.stateDir, sub))
		for _, e := range entries {
			if strings.Contains(e.Name(), id) {
				left = append(left, sub+"/"+e.Name())
			}
		}
	}
	return left
}

// podTraces lists what is left of a pod itself: its directory, mounts
// under it and cgroups.
func (d *daemon) podTraces(uid string) []string {
	var left []string
	dir := filepath.Join(d.stateDir, "pods", uid)
	if _, err := os.Lstat(dir); err == nil {
		left = append(left, "pod dir "+dir)
	}
	mounts, _ := mountsUnder(dir)
	for _, m := range mounts {
		left = append(left, "mount "+m)
	}
	for _, c := range podCgroupDirs(uid) {
		left = append(left, "cgroup "+c)
	}
	return left
}

// TestLeftoversCollectedAfterKill: kill -9 the daemon, then remove two
// pods' containers from containerd behind its back: one pod whose
// manifest is gone too, and one that is still wanted. The next daemon
// collects the first pod's namespace pin, IPAM lease, NAT rules, pod
// directory with its mounts, and cgroup, and the second pod's old
// sandbox network (the pod itself is made again), while a third pod that
// was never touched keeps running with the same container.
func TestLeftoversCollectedAfterKill(t *testing.T) {
	d, dataDir := netDaemon(t)
	d.writeManifest("keep.yaml", leftoverPod("keep", 38301))
	d.writeManifest("gone.yaml", leftoverPod("gone", 38302))
	d.writeManifest("rebuilt.yaml", leftoverPod("rebuilt", 38303))
	keep, gone, rebuilt := d.trace("keep"), d.trace("gone"), d.trace("rebuilt")
	keepPod, _ := d.getPod("net", "keep")
	keepID := containerID(t, containerStatus(t, keepPod, "c"))

	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	d.removeManifest("gone.yaml")
	d.removeBehindBack(gone.uid)
	d.removeBehindBack(rebuilt.uid)
	// What the kill left, so that the checks below can fail.
	for _, tr := range []podTrace{gone, rebuilt} {
		if left := d.sandboxTraces(dataDir, tr.sandbox); len(left) == 0 {
			t.Fatalf("pod %s: nothing of sandbox %s to collect", tr.name, tr.sandbox)
		}
	}
	if left := d.podTraces(gone.uid); len(left) < 3 {
		t.Fatalf("pod gone: want its dir, mounts and cgroups before the restart, have %q", left)
	}

	// Another daemon's pod cgroup (its pod dir is in its own state dir):
	// not this daemon's to collect.
	foreign := foreignPodCgroup(t)

	d.start()
	d.waitFor(60*time.Second, "leftovers collected", func() (bool, string) {
		var left []string
		for _, tr := range []podTrace{gone, rebuilt} {
			left = append(left, d.sandboxTraces(dataDir, tr.sandbox)...)
		}
		left = append(left, d.podTraces(gone.uid)...)
		return len(left) == 0, "left behind:\n" + strings.Join(left, "\n")
	})
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("another daemon's pod cgroup %s was collected: %v", foreign, err)
	}
	log, _ := os.ReadFile(d.logPath)
	for _, want := range []string{gone.sandbox, rebuilt.sandbox, gone.uid} {
		if !strings.Contains(string(log), want) || !strings.Contains(string(log), "reclaimed leftover") {
			t.Errorf("the daemon log names no reclaimed leftover %s", want)
		}
	}

	// The still-wanted pod is made again; the untouched one is untouched.
	p := d.waitRunning("net", "rebuilt")
	if d.trace("rebuilt").sandbox == rebuilt.sandbox {
		t.Errorf("pod rebuilt kept its removed sandbox %s", rebuilt.sandbox)
	}
	if left := d.podTraces(string(p.UID)); len(left) == 0 {
		t.Errorf("pod rebuilt has no pod dir or cgroup: its own were collected")
	}
	keepPod = d.waitRunning("net", "keep")
	cs := containerStatus(t, keepPod, "c")
	if got := containerID(t, cs); got != keepID || cs.RestartCount != 0 || keepPod.Status.PodIP != keep.ip {
		t.Errorf("pod keep: container %s restarts %d ip %s, want %s untouched at %s", got, cs.RestartCount, keepPod.Status.PodIP, keepID, keep.ip)
	}
	if left := d.sandboxTraces(dataDir, keep.sandbox); len(left) == 0 {
		t.Errorf("pod keep lost its network")
	}
}

// TestFailedDelRetriedBeforeNewSandbox: the pause process dies while the
// portmap plugin cannot run, so the dead sandbox's CNI DEL fails. The
// daemon keeps the dead sandbox (the record of its network) and makes no
// new one, says why in an event, and once the plugin is back releases the
// old pin, lease and NAT rules before the new sandbox gets the hostPort.
func TestFailedDelRetriedBeforeNewSandbox(t *testing.T) {
	if !haveIPTables() {
		t.Skip("iptables not installed: portmap cannot program hostPorts")
	}
	bin := t.TempDir()
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		data, err := os.ReadFile(filepath.Join(cniBinDir, p))
		if err != nil {
			t.Skipf("CNI plugin %s: %v", p, err)
		}
		if err := os.WriteFile(filepath.Join(bin, p), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, dataDir := netDaemon(t, "--cni-bin-dir", bin)
	const port = 38311
	d.writeManifest("delfail.yaml", leftoverPod("delfail", port))
	old := d.trace("delfail")

	portmap := filepath.Join(bin, "portmap")
	if err := os.Chmod(portmap, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(d.taskPid(old.sandbox), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitFor(60*time.Second, "the failed release reported", func() (bool, string) {
		evs := podEvents(t, d, "net", "delfail")
		return findEvent(evs, v1.EventTypeWarning, "FailedCreatePodSandBox", "", "release dead sandbox "+old.sandbox) != nil, eventList(evs)
	})
	var sandboxes []string
	for _, c := range d.podContainers(old.uid) {
		if c.Labels["io.minikubelet.kind"] == "sandbox" {
			sandboxes = append(sandboxes, c.ID)
		}
	}
	if len(sandboxes) != 1 || sandboxes[0] != old.sandbox {
		t.Fatalf("sandboxes %v while the dead one's network is attached, want only %s", sandboxes, old.sandbox)
	}
	if left := d.sandboxTraces(dataDir, old.sandbox); len(left) == 0 {
		t.Fatal("the dead sandbox's network is gone although its DEL failed")
	}

	if err := os.Chmod(portmap, 0o755); err != nil {
		t.Fatal(err)
	}
	d.waitFor(90*time.Second, "old network released", func() (bool, string) {
		left := d.sandboxTraces(dataDir, old.sandbox)
		return len(left) == 0, "left behind:\n" + strings.Join(left, "\n")
	})
	cur := d.trace("delfail")
	if cur.sandbox == old.sandbox {
		t.Fatalf("pod still on its dead sandbox %s", old.sandbox)
	}
	var dnat bool
	for _, l := range d.sandboxTraces(dataDir, cur.sandbox) {
		dnat = dnat || (strings.Contains(l, "CNI-HOSTPORT-DNAT") && strings.Contains(l, fmt.Sprint(port)))
	}
	if !dnat {
		t.Errorf("the new sandbox %s has no DNAT rule for hostPort %d", cur.sandbox, port)
	}
}

// TestKilledDuringSandboxStart: kill -9 the daemon the moment a pod's
// CNI attachment is recorded (its ADD starting or under way), remove the
// manifest, and start the daemon again: the sandbox's network, pin, pod
// dir and cgroups all go.
func TestKilledDuringSandboxStart(t *testing.T) {
	d, dataDir := netDaemon(t)
	records := filepath.Join(d.stateDir, "cni", "attachments")
	d.writeManifest("racy.yaml", leftoverPod("racy", 38321))
	var id string
	deadline := time.Now().Add(60 * time.Second)
	for id == "" {
		if time.Now().After(deadline) {
			t.Fatal("no cni attachment record within 60s")
		}
		entries, _ := os.ReadDir(records)
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !strings.HasPrefix(n, ".") {
				id = n
			}
		}
		if id == "" {
			time.Sleep(time.Millisecond)
		}
	}
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	var uid string
	for _, c := range mustContainers(t, d) {
		if c.ID == id {
			uid = c.Labels["io.minikubelet.pod.uid"]
		}
	}
	if uid == "" {
		t.Fatalf("cni attachment %s without its sandbox container: the ADD came before the record", id)
	}
	t.Logf("killed during the ADD of sandbox %s; left: %q", id, d.sandboxTraces(dataDir, id))
	d.removeManifest("racy.yaml")
	d.start()
	d.waitFor(60*time.Second, "nothing left of the pod", func() (bool, string) {
		left := append(d.sandboxTraces(dataDir, id), d.podTraces(uid)...)
		for _, c := range mustContainers(t, d) {
			left = append(left, "container "+c.ID)
		}
		return len(left) == 0, "left behind:\n" + strings.Join(left, "\n")
	})
}

func mustContainers(t *testing.T, d *daemon) []containerObj {
	t.Helper()
	cs, err := d.env.containerd.containers(d.ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// foreignPodCgroup makes a pod cgroup in the daemons' layout for a pod no
// daemon of this test knows, as another minikubelet on the machine would
// have, and removes it when the test ends.
func foreignPodCgroup(t *testing.T) string {
	t.Helper()
	dir := "/sys/fs/cgroup/minikubelet/besteffort/pod" + "f0e1d2c3-0000-4000-8000-000000000001"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		dir = "/sys/fs/cgroup/memory/minikubelet/besteffort/pod" + "f0e1d2c3-0000-4000-8000-000000000001"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make a foreign pod cgroup: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(dir) })
	return dir
}
