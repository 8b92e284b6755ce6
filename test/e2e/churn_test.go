package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestChurnLeavesNothing creates 50 pods, deletes them all, and finds
// nothing of them left on the node: no containers, tasks or snapshots
// (but the images'), mounts, netns pins, pod or log directories, cgroups.
func TestChurnLeavesNothing(t *testing.T) {
	t.Parallel()
	const files, perFile = 5, 10
	d := startDaemon(t)
	for f := 0; f < files; f++ {
		var docs []string
		for i := 0; i < perFile; i++ {
			docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: churn-%d-%d
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sleep", "3600"]
`, f, i, busyboxRef))
		}
		d.writeManifest(fmt.Sprintf("churn-%d.yaml", f), strings.Join(docs, "---\n"))
	}
	var uids []string
	d.waitFor(4*time.Minute, "50 pods running", func() (bool, string) {
		list, err := d.listPods()
		if err != nil {
			return false, err.Error()
		}
		running := 0
		uids = uids[:0]
		for _, p := range list.Items {
			uids = append(uids, string(p.UID))
			if p.Status.Phase == v1.PodRunning {
				running++
			}
		}
		return running == files*perFile, fmt.Sprintf("%d/%d running", running, files*perFile)
	})
	var ids []string
	for _, uid := range uids {
		for _, c := range d.podContainers(uid) {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) != 2*files*perFile {
		t.Fatalf("%d containerd containers for %d pods, want a sandbox and a container each", len(ids), files*perFile)
	}
	for f := 0; f < files; f++ {
		d.removeManifest(fmt.Sprintf("churn-%d.yaml", f))
	}
	d.waitFor(3*time.Minute, "every pod gone", func() (bool, string) {
		list, err := d.listPods()
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 0, fmt.Sprintf("%d pods left", len(list.Items))
	})
	d.waitFor(20*time.Second, "nothing left behind", func() (bool, string) {
		var left []string
		for _, uid := range uids {
			left = append(left, d.leftovers(uid, ids)...)
		}
		if entries, _ := os.ReadDir(filepath.Join(d.stateDir, "pods")); len(entries) > 0 {
			left = append(left, fmt.Sprintf("%d pod directories", len(entries)))
		}
		return len(left) == 0, strings.Join(uniq(left), "; ")
	})
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
