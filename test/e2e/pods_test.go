package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// runningAndReady holds when the pod is Running and every one of its
// containers runs and is ready.
func runningAndReady(p *v1.Pod) (bool, string) {
	if p.Status.Phase != v1.PodRunning {
		return false, summary(p)
	}
	if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false, summary(p)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil || !cs.Ready {
			return false, summary(p)
		}
	}
	return true, ""
}

// summary is a one-line picture of a pod's status for failure messages.
func summary(p *v1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "uid=%s phase=%s", p.UID, p.Status.Phase)
	if p.Status.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", p.Status.Reason)
	}
	if p.Status.Message != "" {
		fmt.Fprintf(&b, " message=%q", p.Status.Message)
	}
	for _, cs := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, " [%s ready=%v restarts=%d", cs.Name, cs.Ready, cs.RestartCount)
		switch {
		case cs.State.Running != nil:
			b.WriteString(" running")
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s %q", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s exit=%d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
		b.WriteString("]")
	}
	return b.String()
}

// containerStatus returns the named container's status or fails the test.
func containerStatus(t *testing.T, p *v1.Pod, name string) v1.ContainerStatus {
	t.Helper()
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	t.Fatalf("pod %s/%s has no status for container %q: %s", p.Namespace, p.Name, name, summary(p))
	return v1.ContainerStatus{}
}

// containerID strips the runtime prefix from a ContainerStatus's
// containerID ("containerd://<id>").
func containerID(t *testing.T, cs v1.ContainerStatus) string {
	t.Helper()
	id, ok := strings.CutPrefix(cs.ContainerID, "containerd://")
	if !ok || id == "" {
		t.Fatalf("container %q: containerID %q is not containerd://<id>", cs.Name, cs.ContainerID)
	}
	return id
}

// nsInode returns the namespace a process is in, as readlink shows it
// ("net:[4026532285]").
func nsInode(t *testing.T, pid int, kind string) string {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	if err != nil {
		t.Fatalf("read %s namespace of pid %d: %v", kind, pid, err)
	}
	return link
}

// conditionStatus returns the status of a pod condition, "" when absent.
func conditionStatus(p *v1.Pod, typ v1.PodConditionType) v1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// tableRows parses `get pods` output into rows of fields keyed by the
// first column (NAME), after checking the header.
func tableRows(t *testing.T, out string, header ...string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != strings.Join(header, " ") {
		t.Fatalf("table header: want %q, output:\n%s", strings.Join(header, " "), out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > 0 {
			rows[f[0]] = f
		}
	}
	return rows
}
