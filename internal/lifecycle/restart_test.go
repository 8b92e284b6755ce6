package lifecycle

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	short := Exit{ExitCode: 1, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
	ok := Exit{ExitCode: 0, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
	long := Exit{ExitCode: 1, StartedAt: t0, FinishedAt: t0.Add(11 * time.Minute)}
	b := DefaultBackOff()
	tests := []struct {
		name     string
		policy   v1.RestartPolicy
		exit     Exit
		step     int
		restart  bool
		delay    time.Duration
		nextStep int
	}{
		{"never", v1.RestartPolicyNever, short, 0, false, 0, 0},
		{"onfailure success", v1.RestartPolicyOnFailure, ok, 0, false, 0, 0},
		{"onfailure failure first", v1.RestartPolicyOnFailure, short, 0, true, 0, 1},
		{"always success first", v1.RestartPolicyAlways, ok, 0, true, 0, 1},
		{"second", v1.RestartPolicyAlways, short, 1, true, 10 * time.Second, 2},
		{"third", v1.RestartPolicyAlways, short, 2, true, 20 * time.Second, 3},
		{"capped", v1.RestartPolicyAlways, short, 10, true, 300 * time.Second, 11},
		{"reset after long run", v1.RestartPolicyAlways, long, 6, true, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.policy, tt.exit, tt.step, b)
			if d.Restart != tt.restart || d.Delay != tt.delay {
				t.Fatalf("got restart=%v delay=%v, want %v %v (%s)", d.Restart, d.Delay, tt.restart, tt.delay, d.Reason)
			}
			if tt.restart && d.Step != tt.nextStep {
				t.Fatalf("step %d, want %d", d.Step, tt.nextStep)
			}
			if tt.delay > 0 && !d.At.Equal(tt.exit.FinishedAt.Add(tt.delay)) {
				t.Fatalf("at %v", d.At)
			}
		})
	}
}

func TestDelaySequence(t *testing.T) {
	b := DefaultBackOff()
	want := []time.Duration{0, 10, 20, 40, 80, 160, 300, 300}
	for i, w := range want {
		if got := Delay(i, b); got != w*time.Second {
			t.Errorf("step %d: %v, want %v", i, got, w*time.Second)
		}
	}
}
