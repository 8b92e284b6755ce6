package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPodMaxPids: with --pod-max-pids 16 a pod's cgroup holds at most 16
// processes, the pause process included: a shell that tries to start 40
// sleeps gets "can't fork" with the pod's cgroup full. (The loop is
// bounded, so a broken limit cannot fork-bomb the test machine.)
func TestPodMaxPids(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--pod-max-pids", "16")
	d.writeManifest("forker.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: forker
  namespace: pids
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: `+busyboxRef+`
    command: ["sh", "-c", "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 600 & i=$((i+1)); done; echo all forked'; echo loop ended; exec sleep 3600"]
`)
	pod := d.waitRunning("pids", "forker")
	// The pod's cgroup is the parent of the pause process's own.
	dir := filepath.Dir(processCgroup(t, d.sandboxPid(string(pod.UID)), "pids"))
	if got := readCgroupFile(t, dir, "pids.max"); got != "16" {
		t.Fatalf("%s/pids.max = %q, want 16", dir, got)
	}
	d.waitFor(30*time.Second, "the shell to finish its loop", func() (bool, string) {
		out, _, _ := d.cli("logs", "forker", "-n", "pids")
		return strings.Contains(out, "loop ended"), out
	})
	out, _, _ := d.cli("logs", "forker", "-n", "pids")
	// busybox's shell gives up at its first refused fork.
	if !strings.Contains(out, "can't fork") || strings.Contains(out, "all forked") {
		t.Errorf("log shows no refused fork:\n%s", out)
	}
	cur, err := strconv.Atoi(readCgroupFile(t, dir, "pids.current"))
	if err != nil || cur > 16 || cur < 10 {
		t.Errorf("pids.current = %d (%v), want 10..16", cur, err)
	}
}
