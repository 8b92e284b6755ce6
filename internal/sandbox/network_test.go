package sandbox

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/runtime/runtimetest"
)

// fakeNetwork records calls and checks the namespace is still pinned; as
// the CNI one, a Teardown of what is not attached does nothing.
type fakeNetwork struct {
	t           *testing.T
	ip          string
	setupErr    error
	teardownErr error
	calls       []string
	attached    map[string]bool
	// rt, when set, must hold the sandbox's container at each Setup: the
	// record of the ID comes before the ADD.
	rt *runtimetest.Fake
}

func (f *fakeNetwork) Setup(_ context.Context, id, netns string, _ *v1.Pod) (string, error) {
	if !isNetNS(netns) {
		f.t.Errorf("Setup of %s: %s is not a pinned namespace", id, netns)
	}
	if f.rt != nil {
		if _, ok := f.rt.Container(id); !ok {
			f.t.Errorf("Setup of %s before its container was created", id)
		}
	}
	f.calls = append(f.calls, "setup "+id)
	if f.setupErr != nil {
		return "", f.setupErr
	}
	f.attached[id] = true
	return f.ip, nil
}

func (f *fakeNetwork) Teardown(_ context.Context, id, netns string) error {
	if !f.attached[id] {
		return nil
	}
	if f.teardownErr != nil {
		return f.teardownErr
	}
	delete(f.attached, id)
	if netns == "" || !isNetNS(netns) {
		f.t.Errorf("Teardown of %s after its namespace was unpinned (%q)", id, netns)
	}
	f.calls = append(f.calls, "teardown "+id)
	return nil
}

func TestRunAttachesNetwork(t *testing.T) {
	requireRoot(t)
	const image = "pause:test"
	for _, tc := range []struct {
		name        string
		hostNetwork bool
		setupErr    error
		wantIP      string
		wantCalls   []string
	}{
		{name: "pod network", wantIP: "10.1.2.3", wantCalls: []string{"setup sb", "teardown sb"}},
		{name: "host network", hostNetwork: true, wantCalls: nil},
		{name: "add fails", setupErr: errors.New("boom"), wantCalls: []string{"setup sb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := runtimetest.New(image)
			nw := &fakeNetwork{t: t, ip: "10.1.2.3", setupErr: tc.setupErr, attached: map[string]bool{}, rt: rt}
			m := &Manager{StateDir: t.TempDir(), Runtime: rt, Image: image, Network: nw, Logger: zaptest.NewLogger(t)}
			pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}, Spec: v1.PodSpec{HostNetwork: tc.hostNetwork}}
			if _, err := m.Prepare(pod, ""); err != nil {
				t.Fatal(err)
			}
			defer m.Cleanup("u1")
			err := m.Run(context.Background(), pod, "sb", 0)
			if tc.setupErr != nil {
				if err == nil {
					t.Fatal("Run succeeded with a failing network")
				}
				if _, err := os.Stat(m.NetNSPath("sb")); !os.IsNotExist(err) {
					t.Errorf("namespace pin left after a failed Run: %v", err)
				}
				if strings.Join(nw.calls, ",") != strings.Join(tc.wantCalls, ",") {
					t.Errorf("calls %v, want %v", nw.calls, tc.wantCalls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, _ := rt.Container("sb")
			if got := c.Labels[LabelPodIP]; got != tc.wantIP {
				t.Errorf("pod IP label %q, want %q", got, tc.wantIP)
			}
			hosts, _ := os.ReadFile(m.PodPaths("u1").Hosts)
			if tc.wantIP != "" && !strings.Contains(string(hosts), tc.wantIP+"\tp\n") {
				t.Errorf("hosts file lacks the pod IP:\n%s", hosts)
			}
			if err := m.Stop(context.Background(), "sb"); err != nil {
				t.Fatal(err)
			}
			if err := m.Remove(context.Background(), "sb"); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				t.Fatal(err)
			}
			if strings.Join(nw.calls, ",") != strings.Join(tc.wantCalls, ",") {
				t.Errorf("calls %v, want %v", nw.calls, tc.wantCalls)
			}
		})
	}
}

// TestFailedReleaseKeepsSandbox: a sandbox whose CNI DEL fails keeps its
// container (the record of its ID) and its namespace pin, on a failed Run
// as on Remove of a dead sandbox, so a later Remove can DEL it; that one
// releases the network before it deletes the container. Before, Remove
// deleted the container first and the failed DEL could never be retried.
func TestFailedReleaseKeepsSandbox(t *testing.T) {
	requireRoot(t)
	const image = "pause:test"
	ctx := context.Background()
	for _, failRun := range []bool{false, true} {
		rt := runtimetest.New(image)
		nw := &fakeNetwork{t: t, ip: "10.1.2.3", attached: map[string]bool{}, rt: rt}
		m := &Manager{StateDir: t.TempDir(), Runtime: rt, Image: image, Network: nw, Logger: zaptest.NewLogger(t)}
		pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}
		if _, err := m.Prepare(pod, ""); err != nil {
			t.Fatal(err)
		}
		defer m.Cleanup("u1")
		nw.teardownErr = errors.New("xtables lock")
		if failRun {
			// The ADD worked, the start did not: the rollback DEL fails.
			rt.InjectError("StartContainer", errors.New("no start"))
			if err := m.Run(ctx, pod, "sb", 0); err == nil {
				t.Fatal("Run succeeded with a failing start")
			}
		} else if err := m.Run(ctx, pod, "sb", 0); err != nil {
			t.Fatal(err)
		}
		if err := m.Remove(ctx, "sb"); err == nil {
			t.Fatalf("failRun %v: Remove succeeded with a failing DEL", failRun)
		}
		if _, ok := rt.Container("sb"); !ok {
			t.Errorf("failRun %v: sandbox container gone while its network is attached", failRun)
		}
		if !isNetNS(m.NetNSPath("sb")) {
			t.Errorf("failRun %v: namespace pin gone while its network is attached", failRun)
		}
		nw.teardownErr = nil
		if err := m.Remove(ctx, "sb"); err != nil {
			t.Fatalf("failRun %v: %v", failRun, err)
		}
		if _, ok := rt.Container("sb"); ok || nw.attached["sb"] {
			t.Errorf("failRun %v: container kept %v, attached %v after Remove", failRun, ok, nw.attached["sb"])
		}
		if _, err := os.Stat(m.NetNSPath("sb")); !os.IsNotExist(err) {
			t.Errorf("failRun %v: namespace pin left after Remove: %v", failRun, err)
		}
	}
}
