package pod

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// TestContainerJoinsLiveSandbox: a container joins its sandbox's
// namespaces by the pause PID (/proc/<pid>/ns/ipc). When the pause process
// dies while the container is prepared (during its image pull, or a slow
// step), the container is not created with the dead PID, which the kernel
// may have given to another process: the next sync re-creates the sandbox
// (SandboxChanged) and the container joins the new one. With no wait, the
// create costs no extra look at the sandbox.
func TestContainerJoinsLiveSandbox(t *testing.T) {
	tests := []struct {
		name   string
		policy v1.PullPolicy
		// during arms kill to run while the container is prepared.
		during func(h *harness, kill func())
		// rechecks: the sandbox is looked at again before the create.
		rechecks bool
	}{
		{"dies during the pull", v1.PullAlways, func(h *harness, kill func()) {
			h.rt.OnPull(func(context.Context, string) error { kill(); return nil })
		}, true},
		{"dies during a slow step", v1.PullIfNotPresent, func(h *harness, kill func()) {
			h.rt.OnCall("ImageUsers", func() {
				h.clock.Step(2 * time.Second)
				kill()
			})
		}, true},
		{"no wait", v1.PullIfNotPresent, func(*harness, func()) {}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			const uid = "u70"
			sandboxes := map[string]string{runtime.LabelPodUID: uid, runtime.LabelKind: runtime.KindSandbox}
			var once sync.Once
			var deadPid uint32
			tt.during(h, func() {
				once.Do(func() {
					cs, _ := h.rt.ListContainers(context.Background(), sandboxes)
					deadPid = cs[0].Pid
					h.rt.Exit(cs[0].ID, 137, false)
				})
			})
			p := testPod("pid", uid, v1.RestartPolicyAlways, "c")
			p.Spec.Containers[0].ImagePullPolicy = tt.policy
			h.m.Sync(context.Background(), []*v1.Pod{p})
			h.waitFor("running", func() bool { return h.phase(uid) == v1.PodRunning })
			looks := h.rt.ListCalls(sandboxes)

			c := h.container(uid, "c")
			var sb runtime.Container
			cs, _ := h.rt.ListContainers(context.Background(), sandboxes)
			for _, s := range cs {
				if s.ID == c.Labels[runtime.LabelSandboxID] {
					sb = s
				}
			}
			if sb.State != runtime.StateRunning {
				t.Fatalf("the container's sandbox %s is %s", c.Labels[runtime.LabelSandboxID], sb.State)
			}
			if got, want := ipcPath(t, h, c.ID), fmt.Sprintf("/proc/%d/ns/ipc", sb.Pid); got != want {
				t.Errorf("container joins %s, want its running sandbox's %s", got, want)
			}
			if !tt.rechecks {
				if looks != 0 {
					t.Errorf("%d extra looks at the sandbox with no wait, want 0", looks)
				}
				return
			}
			// No attempt, not even one that failed later, named the dead PID.
			for _, call := range h.rt.Calls() {
				id, ok := strings.CutPrefix(call, "CreateContainer ")
				if req, _ := h.rt.Request(id); !ok || req.Labels[runtime.LabelKind] != runtime.KindContainer {
					continue
				}
				if got := ipcPath(t, h, id); got == fmt.Sprintf("/proc/%d/ns/ipc", deadPid) {
					t.Errorf("container %s created to join the dead pause process (%s)", id, got)
				}
			}
			if !h.hasEvent("SandboxChanged", "") {
				t.Error("no SandboxChanged event")
			}
		})
	}
}

// ipcPath is the IPC namespace a container's spec joins.
func ipcPath(t *testing.T, h *harness, id string) string {
	t.Helper()
	req, ok := h.rt.Request(id)
	if !ok || req.Spec == nil || req.Spec.Linux == nil {
		t.Fatalf("no create request with a spec for %s", id)
	}
	for _, ns := range req.Spec.Linux.Namespaces {
		if ns.Type == specs.IPCNamespace {
			return ns.Path
		}
	}
	return ""
}
