package prober

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

type testManager struct {
	*Manager
	fx *fakeExecer
	fc *clocktesting.FakeClock

	mu       sync.Mutex
	reported []Update
}

func newTestManager(t *testing.T) *testManager {
	tm := &testManager{
		fx: newFakeExecer(),
		fc: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	tm.Manager = NewManager(Options{
		Execer: tm.fx,
		Clock:  tm.fc,
		Logger: zaptest.NewLogger(t),
		Report: func(u Update) {
			tm.mu.Lock()
			tm.reported = append(tm.reported, u)
			tm.mu.Unlock()
		},
	})
	t.Cleanup(tm.Stop)
	return tm
}

func (tm *testManager) reports() []Update {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]Update(nil), tm.reported...)
}

// next waits for the next published update.
func (tm *testManager) next(t *testing.T) Update {
	t.Helper()
	select {
	case u := <-tm.Updates():
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update published")
		return Update{}
	}
}

// probes returns a container with exec probes "live", "ready" and "start"
// for the kinds given.
func probes(ks ...Kind) v1.Container {
	c := v1.Container{Name: "app"}
	for _, k := range ks {
		switch k {
		case Liveness:
			c.LivenessProbe = execProbe("live")
		case Readiness:
			c.ReadinessProbe = execProbe("ready")
		case Startup:
			c.StartupProbe = execProbe("start")
		}
	}
	return c
}

func TestDoProbeThresholds(t *testing.T) {
	type step struct {
		code int
		err  error // an exec that could not run
		want Result
		keep bool
	}
	tests := []struct {
		name             string
		kind             Kind
		success, failure int32
		steps            []step
	}{
		{name: "liveness fails on the third failure by default", kind: Liveness, steps: []step{
			{1, nil, Success, true}, {1, nil, Success, true}, {1, nil, Failure, false}}},
		{name: "liveness failure threshold 1", kind: Liveness, failure: 1, steps: []step{
			{0, nil, Success, true}, {1, nil, Failure, false}}},
		{name: "a success resets the failure run", kind: Liveness, steps: []step{
			{1, nil, Success, true}, {1, nil, Success, true}, {0, nil, Success, true},
			{1, nil, Success, true}, {1, nil, Success, true}, {1, nil, Failure, false}}},
		{name: "runtime errors are not counted", kind: Liveness, failure: 2, steps: []step{
			{1, nil, Success, true}, {0, errors.New("no task"), Success, true}, {1, nil, Failure, false}}},
		{name: "readiness starts not ready and flips both ways", kind: Readiness, steps: []step{
			{0, nil, Success, true}, {1, nil, Success, true}, {1, nil, Success, true},
			{1, nil, Failure, true}, {1, nil, Failure, true}, {0, nil, Success, true}}},
		{name: "readiness success threshold 2", kind: Readiness, success: 2, failure: 1, steps: []step{
			{0, nil, Failure, true}, {0, nil, Success, true}, {1, nil, Failure, true},
			{0, nil, Failure, true}, {1, nil, Failure, true}, {0, nil, Failure, true}, {0, nil, Success, true}}},
		{name: "startup unknown until failure threshold", kind: Startup, failure: 3, steps: []step{
			{1, nil, Unknown, true}, {1, nil, Unknown, true}, {1, nil, Failure, false}}},
		{name: "startup success is final", kind: Startup, steps: []step{
			{1, nil, Unknown, true}, {0, nil, Success, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := newTestManager(t)
			c := probes(tt.kind)
			p := tt.kind.probe(&c)
			p.SuccessThreshold, p.FailureThreshold = tt.success, tt.failure
			a := tm.add(testTarget(c, ""), false)
			w := a.workers[tt.kind]
			cmd := p.Exec.Command[0]
			for i, s := range tt.steps {
				tm.fx.set(cmd, execStep{code: s.code, out: "boom", err: s.err})
				keep := w.doProbe(context.Background())
				got, _ := tm.Result("ctr-1", tt.kind)
				if got != s.want || keep != s.keep {
					t.Fatalf("step %d: result %v keepGoing %v; want %v %v", i, got, keep, s.want, s.keep)
				}
			}
		})
	}
}

func TestDoProbeUpdateAndReports(t *testing.T) {
	tm := newTestManager(t)
	c := probes(Liveness)
	c.LivenessProbe.FailureThreshold = 2
	c.LivenessProbe.TerminationGracePeriodSeconds = ptr(int64(5))
	w := tm.add(testTarget(c, ""), false).workers[Liveness]
	tm.fx.set("live", execStep{code: 1, out: "unhealthy\n"})
	w.doProbe(context.Background())
	w.doProbe(context.Background())

	u := tm.next(t)
	if u.PodUID != "uid-1" || u.Container != "app" || u.ContainerID != "ctr-1" || u.Kind != Liveness ||
		u.Result != Failure || u.Message != "Liveness probe failed: unhealthy" || u.GracePeriod == nil || *u.GracePeriod != 5 {
		t.Errorf("update = %+v", u)
	}
	// Both failed attempts are reported (Unhealthy events), not just the
	// one that crossed the threshold.
	if r := tm.reports(); len(r) != 2 || r[0].Message != "Liveness probe failed: unhealthy" {
		t.Errorf("reports = %+v, want 2", r)
	}
}

func TestDoProbeInitialDelay(t *testing.T) {
	tests := []struct {
		name    string
		started time.Duration // before now
		delay   int32
		steps   []time.Duration // clock steps before each doProbe
		want    []int           // exec calls after each doProbe
	}{
		{name: "no delay probes at once", steps: []time.Duration{0}, want: []int{1}},
		{name: "delay counts from start", delay: 15, steps: []time.Duration{0, 10 * time.Second, 4 * time.Second, time.Second},
			want: []int{0, 0, 0, 1}},
		{name: "started long ago (adopted after a daemon restart)", started: time.Minute, delay: 15,
			steps: []time.Duration{0}, want: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := newTestManager(t)
			c := probes(Readiness)
			c.ReadinessProbe.InitialDelaySeconds = tt.delay
			tg := testTarget(c, "")
			tg.StartedAt = tm.fc.Now().Add(-tt.started)
			w := tm.add(tg, false).workers[Readiness]
			for i, d := range tt.steps {
				tm.fc.Step(d)
				w.doProbe(context.Background())
				if got := tm.fx.count("ready"); got != tt.want[i] {
					t.Fatalf("step %d: %d exec calls, want %d", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestDoProbeStartupGates(t *testing.T) {
	tm := newTestManager(t)
	c := probes(Startup, Liveness, Readiness)
	c.LivenessProbe.FailureThreshold = 1
	a := tm.add(testTarget(c, ""), false)
	tm.fx.codes("start", 1, 0)
	tm.fx.codes("live", 1)
	tm.fx.codes("ready", 0)
	ctx := context.Background()

	// Startup has not passed: liveness and readiness keep their initial
	// results without probing.
	a.workers[Startup].doProbe(ctx)
	for _, k := range []Kind{Liveness, Readiness} {
		if !a.workers[k].doProbe(ctx) {
			t.Fatalf("%v worker stopped while held back", k)
		}
	}
	if n := tm.fx.count("live") + tm.fx.count("ready"); n != 0 {
		t.Fatalf("%d liveness/readiness probes before startup passed", n)
	}
	if tm.Started("ctr-1") || tm.Ready("ctr-1") {
		t.Fatal("started or ready before the startup probe passed")
	}
	if r, _ := tm.Result("ctr-1", Liveness); r != Success {
		t.Fatalf("liveness = %v, want its initial Success", r)
	}

	// Startup passes: the startup worker is done and readiness is poked.
	if a.workers[Startup].doProbe(ctx) {
		t.Error("startup worker kept going after success")
	}
	if !tm.Started("ctr-1") || tm.Ready("ctr-1") {
		t.Error("want started, not yet ready")
	}
	select {
	case <-a.workers[Readiness].trigger:
	default:
		t.Fatal("readiness not poked when startup passed")
	}
	a.workers[Readiness].doProbe(ctx)
	if !tm.Ready("ctr-1") {
		t.Error("not ready after readiness passed")
	}
	if a.workers[Liveness].doProbe(ctx) {
		t.Error("liveness worker kept going after its failure was published")
	}
	if r, _ := tm.Result("ctr-1", Liveness); r != Failure {
		t.Errorf("liveness = %v, want Failure", r)
	}
}

func TestDoProbeStopped(t *testing.T) {
	tm := newTestManager(t)
	w := tm.add(testTarget(probes(Liveness), ""), false).workers[Liveness]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if w.doProbe(ctx) || tm.fx.count("live") != 0 {
		t.Error("a stopped worker probed")
	}
}
