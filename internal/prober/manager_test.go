package prober

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestManagerReadinessAtOnceAfterStartup(t *testing.T) {
	tm := newTestManager(t)
	c := probes(Startup, Readiness)
	c.StartupProbe.PeriodSeconds, c.StartupProbe.FailureThreshold = 1, 10
	c.ReadinessProbe.PeriodSeconds = 300
	tm.fx.codes("start", 1, 0)
	tm.AddContainer(testTarget(c, ""))

	waitFor(t, "first startup probe", func() bool { return tm.fx.count("start") == 1 })
	if n := tm.fx.count("ready"); n != 0 {
		t.Fatalf("%d readiness probes before startup passed", n)
	}
	tm.fc.Step(time.Second)
	if u := tm.next(t); u.Kind != Startup || u.Result != Success {
		t.Fatalf("first update %+v, want startup Success", u)
	}
	// Readiness follows without its 300 s period passing.
	if u := tm.next(t); u.Kind != Readiness || u.Result != Success {
		t.Fatalf("second update %+v, want readiness Success", u)
	}
	if !tm.Ready("ctr-1") {
		t.Error("not ready")
	}
}

func TestManagerPublishesOnlyChanges(t *testing.T) {
	tm := newTestManager(t)
	c := probes(Readiness)
	c.ReadinessProbe.FailureThreshold = 1
	tm.fx.codes("ready", 0, 0, 1, 1, 0, 0)
	tm.AddContainer(testTarget(c, ""))

	// The first probe runs at once; then one per 10 s period. The consumer
	// keeps up, so it sees every change and nothing else.
	want := []Result{Success, Unknown, Failure, Unknown, Success, Unknown} // Unknown: no update
	for n := 1; n <= len(want); n++ {
		waitFor(t, fmt.Sprintf("probe %d", n), func() bool { return tm.fx.count("ready") == n })
		if want[n-1] != Unknown {
			if u := tm.next(t); u.Result != want[n-1] {
				t.Fatalf("after probe %d: update %v, want %v", n, u.Result, want[n-1])
			}
		}
		tm.fc.Step(10 * time.Second)
	}
	select {
	case u := <-tm.Updates():
		t.Errorf("unexpected update %+v", u)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestManagerRemoveContainer(t *testing.T) {
	tm := newTestManager(t)
	tm.fx.block = true
	tm.AddContainer(testTarget(probes(Liveness, Readiness), ""))
	waitFor(t, "probes in flight", func() bool {
		tm.fx.mu.Lock()
		defer tm.fx.mu.Unlock()
		return tm.fx.inFlight == 2
	})

	tm.RemoveContainer("ctr-1")
	tm.fx.mu.Lock()
	inFlight := tm.fx.inFlight
	tm.fx.block = false
	tm.fx.mu.Unlock()
	if inFlight != 0 {
		t.Fatalf("RemoveContainer returned with %d probes in flight", inFlight)
	}
	if _, ok := tm.Result("ctr-1", Readiness); ok {
		t.Error("removed attempt still has results")
	}
	before := tm.fx.count("live") + tm.fx.count("ready")
	tm.fc.Step(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if after := tm.fx.count("live") + tm.fx.count("ready"); after != before {
		t.Errorf("%d probes ran after RemoveContainer", after-before)
	}
	tm.RemoveContainer("ctr-1") // twice is fine
}

func TestManagerAddIdempotent(t *testing.T) {
	tm := newTestManager(t)
	tg := testTarget(probes(Liveness), "")
	tm.AddContainer(tg)
	tm.AddContainer(tg)
	waitFor(t, "first probe", func() bool { return tm.fx.count("live") >= 1 })
	time.Sleep(20 * time.Millisecond)
	if n := tm.fx.count("live"); n != 1 {
		t.Errorf("%d probes at start, want 1 (one worker)", n)
	}
	tm.AddContainer(Target{ContainerID: "no-container"}) // ignored, no panic
}

func TestManagerDialsIntoPodNetns(t *testing.T) {
	port := portOf(t, listen(t).Addr().String())
	rd := &recordingDialer{}
	var mu sync.Mutex
	var uids []types.UID
	m := NewManager(Options{Dial: func(uid types.UID) Dialer {
		mu.Lock()
		uids = append(uids, uid)
		mu.Unlock()
		return rd.dial
	}})
	defer m.Stop()
	c := v1.Container{Name: "app", ReadinessProbe: tcpProbe(intstr.FromInt32(port))}
	m.AddContainer(testTarget(c, ""))
	select {
	case u := <-m.Updates():
		if u.Kind != Readiness || u.Result != Success {
			t.Fatalf("update %+v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(uids) != 1 || uids[0] != "uid-1" {
		t.Errorf("Dial called for %q, want [uid-1]", uids)
	}
}

func TestManagerStop(t *testing.T) {
	base := runtime.NumGoroutine()
	tm := newTestManager(t)
	for i := range 10 {
		tg := testTarget(probes(Startup, Liveness, Readiness), "")
		tg.ContainerID = fmt.Sprintf("ctr-%d", i)
		tm.AddContainer(tg)
	}
	waitFor(t, "workers running", func() bool { return tm.fx.count("start") == 10 })
	tm.Stop()
	tm.Stop()                                         // idempotent
	tm.AddContainer(testTarget(probes(Liveness), "")) // ignored after Stop
	deadline := time.After(5 * time.Second)
	for range tm.Updates() {
		select {
		case <-deadline:
			t.Fatal("Updates not closed by Stop")
		default:
		}
	}
	// Every worker and the forwarder are gone.
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}
