package leftovers

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	clocktesting "k8s.io/utils/clock/testing"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

func TestDecide(t *testing.T) {
	owners := Owners{Containers: set("sb-live", "c-live"), Pods: set("u-live")}
	old, young := now.Add(-MinFileAge), now.Add(-MinFileAge+time.Second)
	for _, tc := range []struct {
		name  string
		found Found
		want  []Leftover
	}{
		{name: "nothing found"},
		{
			name:  "owned things stay",
			found: Found{Sandboxes: []string{"sb-live"}, PodDirs: []string{"u-live"}, PodCgroups: []string{"u-live"}},
		},
		{
			name:  "sandbox without container, listed twice (pin and cache)",
			found: Found{Sandboxes: []string{"sb-dead", "sb-live", "sb-dead"}},
			want:  []Leftover{{Kind: Sandbox, ID: "sb-dead", Reason: "no sandbox container with this ID"}},
		},
		{
			name:  "pod dir and cgroup without owner",
			found: Found{PodDirs: []string{"u-gone", "u-live"}, PodCgroups: []string{"u-gone2"}},
			want: []Leftover{
				{Kind: PodCgroup, ID: "u-gone2", Reason: "no container and no worker of this pod"},
				{Kind: PodDir, ID: "u-gone", Reason: "no container and no worker of this pod"},
			},
		},
		{
			name: "termination files",
			found: Found{TerminationFiles: []File{
				{PodUID: "u-live", ContainerID: "c-live", Path: "/p/live", ModTime: old},
				{PodUID: "u-live", ContainerID: "c-failed", Path: "/p/failed", ModTime: old},
				{PodUID: "u-live", ContainerID: "c-starting", Path: "/p/starting", ModTime: young},
				// Goes with its pod's directory.
				{PodUID: "u-gone", ContainerID: "c-x", Path: "/p/gone", ModTime: old},
			}},
			want: []Leftover{{Kind: TerminationFile, ID: "/p/failed", PodUID: "u-live", Reason: "no container c-failed and older than 2m0s"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.found, owners, now); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// fakeNode is a node's leftovers and owners for a Collector.
type fakeNode struct {
	order   []string
	actions []string
	owners  Owners
	// owned makes StillOwned true for a pod.
	owned   map[string]bool
	failDel error
}

func (n *fakeNode) collector(log *zap.Logger) *Collector {
	list := func(what string, v ...string) ([]string, error) { n.order = append(n.order, what); return v, nil }
	return &Collector{
		Sandboxes:  func(context.Context) ([]string, error) { return list("sandboxes", "sb-dead", "sb-live") },
		PodDirs:    func() ([]string, error) { return list("dirs", "u-gone", "u-back", "u-live") },
		PodCgroups: func() ([]string, error) { return list("cgroups", "u-gone") },
		TerminationFiles: func(uid string) ([]File, error) {
			n.order = append(n.order, "files "+uid)
			if uid != "u-live" {
				return nil, nil
			}
			return []File{{PodUID: uid, ContainerID: "c-failed", Path: "/p/" + uid + "/termination/c-failed", ModTime: now.Add(-time.Hour)}}, nil
		},
		Owners: func(context.Context) (Owners, error) {
			n.order = append(n.order, "owners")
			return n.owners, nil
		},
		StillOwned: func(uid string) bool { return n.owned[uid] },
		ReleaseSandbox: func(ctx context.Context, id string) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("release without a deadline")
			}
			n.actions = append(n.actions, "release "+id)
			return n.failDel
		},
		RemovePodDir:    func(uid string) error { n.actions = append(n.actions, "rmdir "+uid); return nil },
		RemovePodCgroup: func(uid string) error { n.actions = append(n.actions, "rmcgroup "+uid); return nil },
		RemoveFile:      func(p string) error { n.actions = append(n.actions, "rm "+p); return nil },
		Clock:           clocktesting.NewFakeClock(now),
		Logger:          log,
	}
}

// TestCollect: everything is found before the owners are listed, each
// leftover is reclaimed and logged once with its kind and reason, a pod
// that is known again meanwhile keeps its directory, and a failed CNI DEL
// is reported (and so retried at the next collection).
func TestCollect(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	n := &fakeNode{
		owners: Owners{Containers: set("sb-live"), Pods: set("u-live")},
		owned:  set("u-back"),
	}
	left, err := n.collector(zap.New(core)).Collect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pod directory u-back") {
		t.Errorf("Collect error %v, want the pod known again", err)
	}
	if len(left) != 5 {
		t.Errorf("found %d leftovers, want 5: %+v", len(left), left)
	}
	if got, want := n.order, []string{"sandboxes", "dirs", "cgroups", "files u-gone", "files u-back", "files u-live", "owners"}; !reflect.DeepEqual(got, want) {
		t.Errorf("listing order %q, want %q", got, want)
	}
	wantActions := []string{"release sb-dead", "rmcgroup u-gone", "rmdir u-gone", "rm /p/u-live/termination/c-failed"}
	if !reflect.DeepEqual(n.actions, wantActions) {
		t.Errorf("actions %q, want %q", n.actions, wantActions)
	}
	reclaimed := logs.FilterMessage("reclaimed leftover").All()
	if len(reclaimed) != 4 {
		t.Fatalf("%d reclaimed lines, want 4: %+v", len(reclaimed), logs.All())
	}
	if f := reclaimed[0].ContextMap(); f["kind"] != "sandbox network" || f["id"] != "sb-dead" || f["reason"] == "" {
		t.Errorf("log fields %v", f)
	}

	// A failing DEL: reported, and the leftover is found again next time.
	n.failDel = errors.New("xtables lock")
	n.owned = nil
	n.actions = nil
	if _, err := n.collector(zap.NewNop()).Collect(context.Background()); err == nil || !strings.Contains(err.Error(), "xtables lock") {
		t.Errorf("Collect error %v, want the failed DEL", err)
	}
	if n.actions[0] != "release sb-dead" {
		t.Errorf("actions %q", n.actions)
	}
}

// TestCollectStopsOnListError: a listing that fails decides nothing.
func TestCollectStopsOnListError(t *testing.T) {
	n := &fakeNode{owners: Owners{}}
	c := n.collector(zap.NewNop())
	c.Owners = func(context.Context) (Owners, error) { return Owners{}, errors.New("containerd down") }
	if _, err := c.Collect(context.Background()); err == nil {
		t.Fatal("Collect succeeded without owners")
	}
	if len(n.actions) != 0 {
		t.Errorf("reclaimed %q without knowing the owners", n.actions)
	}
}

// TestRunWaitsForStart: nothing is collected before the first sync.
func TestRunWaitsForStart(t *testing.T) {
	n := &fakeNode{owners: Owners{Containers: set(), Pods: set()}}
	c := n.collector(zap.NewNop())
	clk := clocktesting.NewFakeClock(now)
	c.Clock = clk
	ctx, cancel := context.WithCancel(context.Background())
	start := make(chan struct{})
	done := make(chan struct{})
	collected := make(chan struct{}, 10)
	owners := c.Owners
	c.Owners = func(ctx context.Context) (Owners, error) { collected <- struct{}{}; return owners(ctx) }
	go func() { c.Run(ctx, start, time.Minute, time.Minute); close(done) }()
	select {
	case <-collected:
		t.Fatal("collected before start")
	default:
	}
	close(start)
	<-collected
	// The next collection comes with the period.
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(time.Minute)
	<-collected
	cancel()
	<-done
}

// TestCollectKeepsDirOfBusyCgroup: a pod directory stays while its cgroup
// could not be removed, since the daemon only looks at the cgroups of
// pods that have a directory of its own: taking the directory first would
// lose the cgroup for good.
func TestCollectKeepsDirOfBusyCgroup(t *testing.T) {
	n := &fakeNode{owners: Owners{Containers: set("sb-live", "sb-dead"), Pods: set("u-live", "u-back")}}
	c := n.collector(zaptest.NewLogger(t))
	c.RemovePodCgroup = func(uid string) error {
		n.actions = append(n.actions, "rmcgroup "+uid)
		return errors.New("device or resource busy")
	}
	if _, err := c.Collect(context.Background()); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("Collect error %v, want the busy cgroup", err)
	}
	for _, a := range n.actions {
		if a == "rmdir u-gone" {
			t.Errorf("pod directory removed while its cgroup is left: %q", n.actions)
		}
	}
}
