package e2e

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestSysctlsAndDeadline: an unsafe sysctl fails the pod (SysctlForbidden,
// nothing runs); a safe one is set in the pod's namespaces; a pod past its
// activeDeadlineSeconds is Failed with DeadlineExceeded.
func TestSysctlsAndDeadline(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("unsafe.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: unsafe-sysctl
spec:
  securityContext:
    sysctls:
    - {name: kernel.msgmax, value: "65536"}
  containers:
  - name: main
    image: `+busyboxRef+`
    command: ["sleep", "3600"]
`)
	d.writeManifest("safe.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: safe-sysctl
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    sysctls:
    - {name: kernel.shm_rmid_forced, value: "1"}
    - {name: net.ipv4.ip_local_port_range, value: "20000 30000"}
  containers:
  - name: main
    image: `+busyboxRef+`
    command: ["sh", "-c", "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_local_port_range; sleep 3600"]
`)
	d.writeManifest("deadline.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: deadline
spec:
  activeDeadlineSeconds: 3
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: `+busyboxRef+`
    command: ["sleep", "3600"]
`)
	p := d.waitPod("default", "unsafe-sysctl", 30*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodFailed && p.Status.Reason == "SysctlForbidden", summary(p)
	})
	if !strings.Contains(p.Status.Message, "kernel.msgmax") {
		t.Errorf("message %q does not name the sysctl", p.Status.Message)
	}
	if row, _ := podRow(t, d, "default", "unsafe-sysctl"); len(row) < 3 || row[2] != "SysctlForbidden" {
		t.Errorf("get pods row %v, want STATUS SysctlForbidden", row)
	}
	if objs := d.podContainers(string(p.UID)); len(objs) != 0 {
		t.Errorf("a forbidden pod created %d containerd containers", len(objs))
	}

	d.waitRunning("default", "safe-sysctl")
	d.waitFor(20*time.Second, "sysctls in the log", func() (bool, string) {
		out, _, _ := d.cli("logs", "safe-sysctl")
		return strings.Contains(out, "1") && strings.Contains(out, "20000\t30000"), out
	})

	p = d.waitPod("default", "deadline", 60*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodFailed && p.Status.Reason == "DeadlineExceeded", summary(p)
	})
	if cs := containerStatus(t, p, "main"); cs.State.Terminated == nil {
		t.Errorf("container still %+v after the deadline", cs.State)
	}
}
