package pod

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// releaseFailingSandboxes fails the first fails Removes, as a CNI DEL
// that fails (xtables lock, plugin missing) makes Remove fail.
type releaseFailingSandboxes struct {
	*fakeSandboxes
	mu    sync.Mutex
	fails int
}

func (f *releaseFailingSandboxes) Remove(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return errors.New("injected cni del failure")
	}
	return f.fakeSandboxes.Remove(ctx, id)
}

// TestDeadSandboxReleasedBeforeReplacement: while the dead sandbox cannot
// be removed (its network not released), no new sandbox is made; the
// removal is retried with back-off, and the new sandbox comes once it
// succeeded. Before, the failure was only logged and a new sandbox made
// beside the old one's still-attached network.
func TestDeadSandboxReleasedBeforeReplacement(t *testing.T) {
	var sb *releaseFailingSandboxes
	h := newHarnessWith(t, func(f *fakeSandboxes) Sandboxes {
		sb = &releaseFailingSandboxes{fakeSandboxes: f, fails: 3}
		return sb
	})
	h.m.Sync(context.Background(), []*v1.Pod{testPod("p", "u9", v1.RestartPolicyAlways, "c")})
	h.waitFor("running", func() bool { return h.container("u9", "c").State == runtime.StateRunning })
	sandboxes := func() []runtime.Container {
		cs, _ := h.rt.ListContainers(context.Background(), map[string]string{runtime.LabelPodUID: "u9", runtime.LabelKind: runtime.KindSandbox})
		return cs
	}
	old := sandboxes()[0]
	h.rt.Exit(old.ID, 137, false)
	h.m.pokeAll()
	for left := 2; left >= 0; left-- {
		h.waitFor("a failed removal", func() bool { sb.mu.Lock(); defer sb.mu.Unlock(); return sb.fails == left })
		if cs := sandboxes(); len(cs) != 1 || cs[0].ID != old.ID {
			t.Fatalf("sandboxes %v while the dead one is not released, want only %s", cs, old.ID)
		}
		// Past the back-off: the worker tries again.
		h.clock.Step(5 * time.Minute)
		h.m.pokeAll()
	}
	h.waitFor("new sandbox", func() bool {
		cs := sandboxes()
		return len(cs) == 1 && cs[0].ID != old.ID && cs[0].State == runtime.StateRunning && cs[0].Attempt() == 1
	})
}
