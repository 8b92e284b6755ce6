// Package lifecycle holds the decisions of a container's life that are
// pure functions of facts — whether and when an exited container restarts —
// apart from the pod worker that carries them out, so every branch is
// tested with a table and a fake clock.
package lifecycle

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Back-off defaults, as the kubelet's: the first restart is immediate, then
// 10 s doubling up to 5 minutes; a container that ran 10 minutes resets it.
const (
	DefaultInitialBackOff = 10 * time.Second
	DefaultMaxBackOff     = 300 * time.Second
	DefaultBackOffReset   = 10 * time.Minute
)

// BackOff configures restart delays.
type BackOff struct {
	Initial, Max, Reset time.Duration
}

// DefaultBackOff returns the kubelet's back-off.
func DefaultBackOff() BackOff {
	return BackOff{Initial: DefaultInitialBackOff, Max: DefaultMaxBackOff, Reset: DefaultBackOffReset}
}

// Exit is what is known about a container attempt that ended.
type Exit struct {
	ExitCode   int32
	StartedAt  time.Time
	FinishedAt time.Time
}

// Decision says what to do about an exited container.
type Decision struct {
	// Restart is false when the policy keeps the container stopped.
	Restart bool
	// At is when the restart may happen (zero: now); Delay is the back-off
	// that was applied, for messages.
	At    time.Time
	Delay time.Duration
	// Step is the back-off step to remember for the next exit.
	Step int
	// Reason explains the decision for logs.
	Reason string
}

// Decide applies the restart policy and back-off to an exit. step is the
// number of quick failures before this one (0 for the first exit).
func Decide(policy v1.RestartPolicy, exit Exit, step int, b BackOff) Decision {
	switch {
	case policy == v1.RestartPolicyNever:
		return Decision{Reason: "restartPolicy is Never"}
	case policy == v1.RestartPolicyOnFailure && exit.ExitCode == 0:
		return Decision{Reason: "restartPolicy is OnFailure and the container succeeded"}
	}
	if !exit.StartedAt.IsZero() && exit.FinishedAt.Sub(exit.StartedAt) >= b.Reset {
		step = 0
	}
	delay := Delay(step, b)
	d := Decision{Restart: true, Delay: delay, Step: step + 1}
	d.At = exit.FinishedAt.Add(delay)
	if delay == 0 {
		d.At = time.Time{}
		d.Reason = fmt.Sprintf("restartPolicy is %s: restart now", policy)
	} else {
		d.Reason = fmt.Sprintf("restartPolicy is %s: back-off %s", policy, delay)
	}
	return d
}

// Delay is the wait before restart number step+1: none for the first, then
// Initial doubling up to Max.
func Delay(step int, b BackOff) time.Duration {
	if step <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < step && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	return d
}
