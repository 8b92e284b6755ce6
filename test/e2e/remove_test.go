package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const doomedPod = `apiVersion: v1
kind: Pod
metadata:
  name: doomed
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: one
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
    resources:
      limits:
        memory: 64Mi
  - name: two
    image: localhost/minikubelet/busybox:e2e
    command: ["httpd", "-f", "-p", "8081"]
`

// TestRemovedManifestRemovesPod checks section 4 of the contract: once a
// manifest is gone, its pod is gone from the API, and nothing of it is left
// in containerd (containers, tasks, snapshots), in the mount table, on
// disk or in the cgroup tree.
func TestRemovedManifestRemovesPod(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("doomed.yaml", doomedPod)
	pod := d.waitRunning("default", "doomed")
	uid := string(pod.UID)

	objs := d.podContainers(uid)
	var ids []string
	for _, c := range objs {
		ids = append(ids, c.ID)
	}
	// A sandbox and two containers: otherwise the checks below would
	// prove little.
	if len(ids) != 3 {
		t.Fatalf("pod has %d containerd containers %v, want 3 (sandbox and two containers)", len(ids), ids)
	}
	podDir := filepath.Join(d.stateDir, "pods", uid)
	if _, err := os.Stat(podDir); err != nil {
		t.Errorf("pod directory while running: %v", err)
	}
	if len(podCgroupDirs(uid)) == 0 {
		t.Errorf("no cgroup /minikubelet/pod%s while the pod runs", uid)
	}

	d.removeManifest("doomed.yaml")
	d.waitGone("default", "doomed", 60*time.Second)

	// The pod may leave the API a moment before the last file is gone;
	// give the cleanup a few seconds, no more.
	d.waitFor(10*time.Second, "pod "+uid+" to leave nothing behind", func() (bool, string) {
		left := d.leftovers(uid, ids)
		return len(left) == 0, strings.Join(left, "; ")
	})

	out := d.mustCLI("get", "pods", "-A", "-o", "name")
	if strings.Contains(out, "doomed") {
		t.Errorf("get pods -A still lists the pod:\n%s", out)
	}
}

// leftovers lists what remains of a pod on the node.
func (d *daemon) leftovers(uid string, ids []string) []string {
	var left []string
	if objs := d.podContainers(uid); len(objs) > 0 {
		left = append(left, fmt.Sprintf("containerd containers %v", objs))
	}
	tasks, err := d.env.containerd.tasks(d.ns)
	if err != nil {
		left = append(left, err.Error())
	}
	snaps, err := d.env.containerd.snapshots(d.ns)
	if err != nil {
		left = append(left, err.Error())
	}
	for _, id := range ids {
		if _, ok := tasks[id]; ok {
			left = append(left, "task "+id)
		}
		if slices.Contains(snaps, id) {
			left = append(left, "snapshot "+id)
		}
	}
	mounts, err := mountsUnder(d.stateDir)
	if err != nil {
		left = append(left, err.Error())
	}
	if len(mounts) > 0 {
		left = append(left, fmt.Sprintf("mounts %v", mounts))
	}
	if _, err := os.Stat(filepath.Join(d.stateDir, "pods", uid)); err == nil {
		left = append(left, "pod directory")
	}
	netns, _ := os.ReadDir(filepath.Join(d.stateDir, "netns"))
	for _, e := range netns {
		left = append(left, "netns pin "+e.Name())
	}
	if dirs := podCgroupDirs(uid); len(dirs) > 0 {
		left = append(left, fmt.Sprintf("cgroups %v", dirs))
	}
	return left
}
