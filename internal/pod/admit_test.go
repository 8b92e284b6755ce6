package pod

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

func TestAdmitSysctls(t *testing.T) {
	tests := []struct {
		name    string
		sysctls []string
		host    bool
		allowed []string
		reason  string
	}{
		{"none", nil, false, nil, ""},
		{"safe", []string{"kernel.shm_rmid_forced", "net.ipv4.tcp_syncookies"}, false, nil, ""},
		{"unsafe", []string{"kernel.msgmax"}, false, nil, "SysctlForbidden"},
		{"unsafe but allowed by prefix", []string{"kernel.msgmax"}, false, []string{"kernel.msg*"}, ""},
		{"net with hostNetwork", []string{"net.ipv4.tcp_syncookies"}, true, nil, "SysctlForbidden"},
	}
	for _, tt := range tests {
		p := testPod("p", "u", v1.RestartPolicyAlways, "c")
		p.Spec.HostNetwork = tt.host
		p.Spec.SecurityContext = &v1.PodSecurityContext{}
		for _, s := range tt.sysctls {
			p.Spec.SecurityContext.Sysctls = append(p.Spec.SecurityContext.Sysctls, v1.Sysctl{Name: s, Value: "1"})
		}
		f := admit(p, tt.allowed)
		got := ""
		if f != nil {
			got = f.Reason
		}
		if got != tt.reason {
			t.Errorf("%s: %q, want %q (%+v)", tt.name, got, tt.reason, f)
		}
	}
}

func TestForbiddenSysctlFailsThePod(t *testing.T) {
	h := newHarness(t)
	p := testPod("sys", "a1", v1.RestartPolicyAlways, "c")
	p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: []v1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}}
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("Failed", func() bool { return h.phase("a1") == v1.PodFailed })
	if got := h.pod("a1").Status.Reason; got != "SysctlForbidden" {
		t.Errorf("reason %q", got)
	}
	if n := h.rt.CountCalls("CreateContainer"); n != 0 {
		t.Errorf("%d containers created for a refused pod", n)
	}
}

func TestActiveDeadlineFailsThePod(t *testing.T) {
	h := newHarness(t)
	p := testPod("dl", "a2", v1.RestartPolicyAlways, "c")
	d := int64(30)
	p.Spec.ActiveDeadlineSeconds = &d
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.phase("a2") == v1.PodRunning })
	h.clock.Step(31 * time.Second)
	h.waitFor("DeadlineExceeded", func() bool {
		p := h.pod("a2")
		return p.Status.Phase == v1.PodFailed && p.Status.Reason == "DeadlineExceeded"
	})
	if c := h.container("a2", "c"); c.State != runtime.StateExited {
		t.Errorf("container %s after the deadline, want stopped", c.State)
	}
	// Terminal: nothing restarts.
	h.clock.Step(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if c := h.container("a2", "c"); c.Attempt() != 0 {
		t.Errorf("restarted after the deadline")
	}
}
