package pod

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/status"
)

const mi = 1 << 20

func storagePod(mutate func(p *v1.Pod)) *v1.Pod {
	p := testPod("s", "u1", v1.RestartPolicyAlways, "app", "side")
	p.Spec.Volumes = []v1.Volume{
		{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: ptrQ("1Mi")}}},
		{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: ptrQ("1Mi")}}},
		{Name: "free", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func ptrQ(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

func limitStorage(c *v1.Container, q string) {
	c.Resources.Limits = v1.ResourceList{v1.ResourceEphemeralStorage: resource.MustParse(q)}
}

func TestEvictionFor(t *testing.T) {
	bothLimited := func(p *v1.Pod) {
		limitStorage(&p.Spec.Containers[0], "2Mi")
		limitStorage(&p.Spec.Containers[1], "2Mi")
	}
	tests := []struct {
		name   string
		mutate func(p *v1.Pod)
		usage  storageUsage
		want   string // "" for no eviction
	}{
		{"nothing over", nil, storageUsage{emptyDirs: map[string]int64{"data": mi, "free": 50 * mi}}, ""},
		{"disk emptyDir over", nil, storageUsage{emptyDirs: map[string]int64{"data": mi + 1}},
			`Usage of EmptyDir volume "data" exceeds the limit "1Mi".`},
		// Its tmpfs is the limit; usage there is not storage.
		{"memory emptyDir not checked", nil, storageUsage{emptyDirs: map[string]int64{"mem": 5 * mi}}, ""},
		{"container over", func(p *v1.Pod) { limitStorage(&p.Spec.Containers[1], "1Mi") },
			storageUsage{containers: map[string]int64{"app": 9 * mi, "side": mi + 1}},
			`Container side exceeded its local ephemeral storage limit "1Mi".`},
		{"init container over", func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "init"}}
			limitStorage(&p.Spec.InitContainers[0], "1Mi")
		}, storageUsage{containers: map[string]int64{"init": 2 * mi}},
			`Container init exceeded its local ephemeral storage limit "1Mi".`},
		{"pod over the sum of its containers' limits", bothLimited,
			storageUsage{emptyDirs: map[string]int64{"free": 3 * mi}, containers: map[string]int64{"app": mi, "side": mi}},
			"Pod ephemeral local storage usage exceeds the total limit of containers 4Mi."},
		{"pod under the sum", bothLimited,
			storageUsage{emptyDirs: map[string]int64{"free": mi}, containers: map[string]int64{"app": mi, "side": mi}}, ""},
		// Unlike the kubelet: a container with no limit leaves the pod
		// without a pod-level one.
		{"no pod limit unless every container has one", func(p *v1.Pod) { limitStorage(&p.Spec.Containers[0], "2Mi") },
			storageUsage{emptyDirs: map[string]int64{"free": 30 * mi}, containers: map[string]int64{"app": mi, "side": 30 * mi}}, ""},
		{"a container before the pod", bothLimited,
			storageUsage{containers: map[string]int64{"app": 5 * mi}},
			`Container app exceeded its local ephemeral storage limit "2Mi".`},
		{"emptyDir checked first", func(p *v1.Pod) { limitStorage(&p.Spec.Containers[0], "1Mi") },
			storageUsage{emptyDirs: map[string]int64{"data": 2 * mi}, containers: map[string]int64{"app": 2 * mi}},
			`Usage of EmptyDir volume "data" exceeds the limit "1Mi".`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := storagePod(tt.mutate)
			f := evictionFor(p, tt.usage)
			switch {
			case tt.want == "" && f != nil:
				t.Fatalf("evicted: %+v", f)
			case tt.want != "" && f == nil:
				t.Fatalf("not evicted, want %q", tt.want)
			case f != nil && (f.Reason != "Evicted" || f.Message != tt.want || f.Grace != evictionGrace):
				t.Fatalf("got %+v, want reason Evicted, message %q, grace %s", f, tt.want, evictionGrace)
			}
		})
	}
	if hasStorageLimits(testPod("plain", "u2", v1.RestartPolicyAlways, "c")) {
		t.Error("a pod with no limits is measured")
	}
}

// TestStorageEvictionFailsThePod: a container whose writable layer goes
// over its ephemeral-storage limit evicts the pod: Failed, reason
// Evicted, an Evicted Warning event, its containers stopped and never
// restarted; a restarted daemon keeps it Failed.
func TestStorageEvictionFailsThePod(t *testing.T) {
	h := newHarness(t)
	p := testPod("s", "e1", v1.RestartPolicyAlways, "app")
	limitStorage(&p.Spec.Containers[0], "1Mi")
	h.m.Sync(context.Background(), []*v1.Pod{p})
	h.waitFor("running", func() bool { return h.container("e1", "app").State == runtime.StateRunning })

	// Under the limit: nothing happens.
	h.rt.SetLayerUsage(h.container("e1", "app").ID, mi)
	h.m.checkStorage(context.Background())
	time.Sleep(20 * time.Millisecond)
	if ph := h.phase("e1"); ph != v1.PodRunning {
		t.Fatalf("phase %s under the limit", ph)
	}

	h.rt.SetLayerUsage(h.container("e1", "app").ID, mi+1)
	h.m.checkStorage(context.Background())
	h.waitFor("Evicted", func() bool {
		p := h.pod("e1")
		return p.Status.Phase == v1.PodFailed && p.Status.Reason == "Evicted"
	})
	want := `Container app exceeded its local ephemeral storage limit "1Mi".`
	if got := h.pod("e1").Status.Message; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if !h.hasEvent("Evicted", want) {
		t.Errorf("no Evicted event; events: %v", h.store.Events("", ""))
	}
	h.waitFor("container stopped", func() bool { return h.container("e1", "app").State == runtime.StateExited })
	disrupted := false
	for _, c := range h.pod("e1").Status.Conditions {
		disrupted = disrupted || c.Type == v1.DisruptionTarget && c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonTerminationByKubelet
	}
	if !disrupted {
		t.Errorf("no DisruptionTarget condition: %+v", h.pod("e1").Status.Conditions)
	}
	h.clock.Step(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if c := h.container("e1", "app"); c.Attempt() != 0 {
		t.Errorf("an evicted pod restarted (attempt %d)", c.Attempt())
	}

	// A new daemon on the same runtime: still Failed, from the sandbox's
	// label, without measuring again.
	h.cancel()
	<-h.done
	store := status.NewStore(h.clock, 100)
	m := NewManager(Options{Runtime: h.rt, Sandboxes: h.sb, Store: store, Clock: h.clock, Logger: zaptest.NewLogger(t), NodeName: "node1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	m.Sync(ctx, []*v1.Pod{p})
	h.waitFor("still Evicted", func() bool {
		p, ok := store.Pod("e1")
		return ok && p.Status.Phase == v1.PodFailed && p.Status.Reason == "Evicted" && p.Status.Message == want
	})
	if c := h.container("e1", "app"); c.Attempt() != 0 || c.State != runtime.StateExited {
		t.Errorf("after a daemon restart: attempt %d %s, want attempt 0 exited", c.Attempt(), c.State)
	}
}
