package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// cgroupV2 reports a unified (v2-only) cgroup hierarchy.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// processCgroup returns the directory under /sys/fs/cgroup of the cgroup
// a process is in for controller (cgroup v1), or its unified cgroup (v2,
// controller ignored), from /proc/<pid>/cgroup. The test runs in the
// host's cgroup namespace, so the paths are absolute.
func processCgroup(t *testing.T, pid int, controller string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("cgroups of pid %d: %v", pid, err)
	}
	defer f.Close()
	v2 := cgroupV2()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 {
			if parts[0] == "0" {
				return filepath.Join("/sys/fs/cgroup", parts[2])
			}
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				// The mount point is named by the controller (cpu is a
				// link to cpu,cpuacct where they are co-mounted).
				return filepath.Join("/sys/fs/cgroup", controller, parts[2])
			}
		}
	}
	t.Fatalf("pid %d is in no %q cgroup (/proc/%d/cgroup)", pid, controller, pid)
	return ""
}

// readCgroupFile returns a cgroup file's content, trimmed.
func readCgroupFile(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Errorf("read cgroup file: %v", err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// sandboxPid returns the pid of the pod's running pause container.
func (d *daemon) sandboxPid(uid string) int {
	d.t.Helper()
	list, err := d.env.containerd.containers(d.ns, map[string]string{runtime.LabelPodUID: uid, runtime.LabelKind: runtime.KindSandbox})
	if err != nil {
		d.t.Fatal(err)
	}
	tasks, err := d.env.containerd.tasks(d.ns)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, c := range list {
		if pid := tasks[c.ID]; pid != 0 {
			return int(pid)
		}
	}
	d.t.Fatalf("no running sandbox for pod %s (sandboxes %v, tasks %v)", uid, list, tasks)
	return 0
}

// resourcesPod is a sleeping pod named name with the given resources block
// (YAML, indented for the container) or none.
func resourcesPod(name, resources string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: resources
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
%s`, name, resources)
}

// TestResourcesInCgroups checks requests and limits as the kubelet writes
// them to cgroups, for the seed's nginx resources (Burstable) and for a
// Guaranteed and a BestEffort pod; the cgroups are found from the
// containers' processes, wherever the daemon puts them, and the sandbox
// shares the pod-level parent cgroup with the containers. (The seed nginx
// test reads the same Burstable limits from a fixed path.)
func TestResourcesInCgroups(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("burstable.yaml", resourcesPod("burstable", `    resources:
      limits:
        cpu: 500m
        memory: 512Mi
      requests:
        cpu: 100m
        memory: 128Mi
`))
	d.writeManifest("guaranteed.yaml", resourcesPod("guaranteed", `    resources:
      limits:
        cpu: 250m
        memory: 64Mi
`))
	d.writeManifest("besteffort.yaml", resourcesPod("besteffort", ""))

	type want struct {
		qos v1.PodQOSClass
		// cgroup v1 files of the container's cgroup; "" skips a file.
		memLimit, quota, shares string
		// cgroup v2 equivalents.
		memMax, cpuMax string
	}
	// cpu.shares as the kubelet computes them: request*1024/1000, at
	// least 2 (a container with no request gets 2). A limit with no
	// request makes the request equal to the limit.
	for _, tc := range []struct {
		pod  string
		want want
	}{
		{"burstable", want{v1.PodQOSBurstable, "536870912", "50000", "102", "536870912", "50000 100000"}},
		{"guaranteed", want{v1.PodQOSGuaranteed, "67108864", "25000", "256", "67108864", "25000 100000"}},
		// No limit: v1 reports the largest page-aligned value; no quota.
		{"besteffort", want{v1.PodQOSBestEffort, "9223372036854771712", "-1", "2", "max", "max 100000"}},
	} {
		pod := d.waitRunning("resources", tc.pod)
		if pod.Status.QOSClass != tc.want.qos {
			t.Errorf("pod %s: status.qosClass %q, want %s", tc.pod, pod.Status.QOSClass, tc.want.qos)
		}
		pid := d.taskPid(containerID(t, containerStatus(t, pod, "main")))
		sbPid := d.sandboxPid(string(pod.UID))
		check := func(dir, file, want string) {
			t.Helper()
			if got := readCgroupFile(t, dir, file); want != "" && got != want {
				t.Errorf("pod %s: %s/%s = %s, want %s", tc.pod, dir, file, got, want)
			}
		}
		controllers := []string{"memory", "cpu"}
		if cgroupV2() {
			dir := processCgroup(t, pid, "")
			check(dir, "memory.max", tc.want.memMax)
			check(dir, "cpu.max", tc.want.cpuMax)
			controllers = []string{""}
		} else {
			mem, cpu := processCgroup(t, pid, "memory"), processCgroup(t, pid, "cpu")
			check(mem, "memory.limit_in_bytes", tc.want.memLimit)
			check(cpu, "cpu.cfs_quota_us", tc.want.quota)
			check(cpu, "cpu.cfs_period_us", "100000")
			check(cpu, "cpu.shares", tc.want.shares)
		}
		// One pod-level cgroup holds the sandbox and the container, as
		// the kubelet's pod<uid> cgroups do.
		for _, c := range controllers {
			cdir, sdir := processCgroup(t, pid, c), processCgroup(t, sbPid, c)
			if filepath.Dir(cdir) != filepath.Dir(sdir) || filepath.Base(filepath.Dir(cdir)) != "pod"+string(pod.UID) {
				t.Errorf("pod %s: container cgroup %s and sandbox cgroup %s, want both directly under one pod%s cgroup", tc.pod, cdir, sdir, pod.UID)
			}
		}
		t.Logf("pod %s (%s): container cgroup %s", tc.pod, pod.Status.QOSClass, processCgroup(t, pid, controllers[0]))
	}
}
