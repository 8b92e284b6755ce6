package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
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

// storagePod is a pod (namespace storage) whose one container runs script
// with extra YAML (resources, volumeMounts) and the pod's volumes.
func storagePod(name, script, containerExtra, volumes string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: storage
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: %s
    command: ["sh", "-c", %q]
%s%s`, name, busyboxRef, script, containerExtra, volumes)
}

// waitEvicted waits for the pod to be Failed with reason Evicted and
// message, checks the Evicted Warning event and that it stays so with
// its container stopped and never restarted.
func waitEvicted(t *testing.T, d *daemon, name, message string) {
	t.Helper()
	pod := d.waitPod("storage", name, 60*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodFailed && p.Status.Reason == "Evicted", summary(p)
	})
	if pod.Status.Message != message {
		t.Errorf("message %q, want %q", pod.Status.Message, message)
	}
	if ev := findEvent(podEvents(t, d, "storage", name), v1.EventTypeWarning, "Evicted", message); ev == nil {
		t.Errorf("no Evicted Warning event %q; events:%s", message, eventList(podEvents(t, d, "storage", name)))
	}
	pod = d.waitPod("storage", name, 30*time.Second, func(p *v1.Pod) (bool, string) {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Terminated != nil, summary(p)
	})
	// An eviction is terminal: a few monitoring periods later nothing
	// has restarted.
	time.Sleep(3 * time.Second)
	pod, err := d.getPod("storage", name)
	if err != nil {
		t.Fatal(err)
	}
	if cs := containerStatus(t, pod, "app"); cs.RestartCount != 0 || cs.State.Terminated == nil || pod.Status.Phase != v1.PodFailed {
		t.Errorf("after eviction: %s", summary(pod))
	}
	// STATUS is kubectl's: the stopped container's reason (Error, as
	// kubectl shows evicted pods whose containers were stopped) wins over
	// the pod's.
	d.checkRow(t, "storage", name, "0/1", "Error")
}

// TestEmptyDirSizeLimitEviction: a disk emptyDir filled past its sizeLimit
// evicts the pod with the kubelet's message; the same pod writing under
// the limit runs on.
func TestEmptyDirSizeLimitEviction(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--eviction-monitoring-period", "1s")
	mounts := "    volumeMounts:\n    - name: data\n      mountPath: /data\n"
	volumes := "  volumes:\n  - name: data\n    emptyDir:\n      sizeLimit: 1Mi\n"
	d.writeManifest("fill.yaml", storagePod("fill", "dd if=/dev/zero of=/data/f bs=1M count=4; sync; exec sleep 3600", mounts, volumes))
	d.writeManifest("small.yaml", storagePod("small", "dd if=/dev/zero of=/data/f bs=512k count=1; sync; exec sleep 3600", mounts, volumes))
	waitEvicted(t, d, "fill", `Usage of EmptyDir volume "data" exceeds the limit "1Mi".`)
	if p, err := d.getPod("storage", "small"); err != nil || p.Status.Phase != v1.PodRunning {
		t.Errorf("pod under its limit: %v %v", err, p)
	}
}

// TestEphemeralStorageEviction: a container writing into its root file
// system past its ephemeral-storage limit evicts the pod, and it stays
// evicted across a daemon restart.
func TestEphemeralStorageEviction(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--eviction-monitoring-period", "1s")
	limits := "    resources:\n      limits:\n        ephemeral-storage: 1Mi\n"
	d.writeManifest("rootfs.yaml", storagePod("rootfs", "dd if=/dev/zero of=/big bs=1M count=4; sync; exec sleep 3600", limits, ""))
	msg := `Container app exceeded its local ephemeral storage limit "1Mi".`
	waitEvicted(t, d, "rootfs", msg)

	// A restarted daemon keeps the pod evicted (the eviction is kept on
	// the sandbox), as the manifest did not change.
	d.stop()
	d.start()
	time.Sleep(3 * time.Second)
	pod, err := d.getPod("storage", "rootfs")
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != v1.PodFailed || pod.Status.Reason != "Evicted" || pod.Status.Message != msg {
		t.Errorf("after a daemon restart: %s", summary(pod))
	}
	if cs := containerStatus(t, pod, "app"); cs.RestartCount != 0 || cs.State.Terminated == nil {
		t.Errorf("after a daemon restart the container runs again: %s", summary(pod))
	}
}

// TestRefusedUntilSupported: hostUsers: false and pod-level resources are
// refused by `minikubelet validate` and by the daemon (a Warning event
// naming the file, no pod), instead of being accepted and ignored.
func TestRefusedUntilSupported(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	files := map[string]struct{ extra, field, reason string }{
		"userns.yaml":        {"  hostUsers: false\n", "spec.hostUsers", "not supported yet: user namespaces"},
		"pod-resources.yaml": {"  resources:\n    limits:\n      memory: 64Mi\n", "spec.resources", "not supported yet: pod-level resources"},
	}
	for file, f := range files {
		name := strings.TrimSuffix(file, ".yaml")
		d.writeManifest(file, minimalPod(name)+f.extra)
	}
	d.writeManifest("fine.yaml", minimalPod("fine"))
	d.waitRunning("default", "fine")
	for file, f := range files {
		path := filepath.Join(d.manifestDir, file)
		out, errOut, code := runCLI(t, d.env, "validate", path)
		if want := path + ": " + f.field + ": " + f.reason; code != 1 || !strings.Contains(out+errOut, want) {
			t.Errorf("validate %s: exit %d, want 1 and %q in:\n%s%s", file, code, want, out, errOut)
		}
		d.waitFor(30*time.Second, "a Warning event for "+file, func() (bool, string) {
			evs := podEvents(t, d, "", "")
			for _, e := range evs {
				if e.Type == v1.EventTypeWarning && strings.Contains(e.Message, file) && strings.Contains(e.Message, f.reason) {
					return true, ""
				}
			}
			return false, eventList(evs)
		})
		if _, err := d.getPod("default", strings.TrimSuffix(file, ".yaml")); err == nil {
			t.Errorf("a pod runs from %s", file)
		}
	}
}
