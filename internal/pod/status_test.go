package pod

import (
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// attempt builds an observed container attempt.
func attempt(name string, n int, state runtime.State, exit int32) runtime.Container {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := runtime.Container{
		ID:     name + strconv.Itoa(n),
		Labels: map[string]string{runtime.LabelKind: runtime.KindContainer, runtime.LabelContainerName: name, runtime.LabelAttempt: strconv.Itoa(n)},
		State:  state, ExitCode: exit, StartedAt: t0, CreatedAt: t0,
	}
	if state == runtime.StateExited {
		c.FinishedAt = t0.Add(time.Second)
	}
	return c
}

func TestPhase(t *testing.T) {
	run, exit0, exit1 := runtime.StateRunning, runtime.StateExited, runtime.StateExited
	tests := []struct {
		name    string
		policy  v1.RestartPolicy
		obs     []runtime.Container
		waiting map[string]waiting
		prev    v1.PodPhase
		want    v1.PodPhase
	}{
		{"nothing yet", v1.RestartPolicyAlways, nil, nil, "", v1.PodPending},
		{"one running one not started", v1.RestartPolicyAlways, []runtime.Container{attempt("a", 0, run, 0)}, nil, "", v1.PodPending},
		{"both running", v1.RestartPolicyAlways, []runtime.Container{attempt("a", 0, run, 0), attempt("b", 0, run, 0)}, nil, "", v1.PodRunning},
		{"one running one done", v1.RestartPolicyNever, []runtime.Container{attempt("a", 0, run, 0), attempt("b", 0, exit0, 0)}, nil, "", v1.PodRunning},
		{"all stopped Always", v1.RestartPolicyAlways, []runtime.Container{attempt("a", 0, exit0, 0), attempt("b", 0, exit1, 1)}, nil, "", v1.PodRunning},
		{"all succeeded Never", v1.RestartPolicyNever, []runtime.Container{attempt("a", 0, exit0, 0), attempt("b", 0, exit0, 0)}, nil, "", v1.PodSucceeded},
		{"one failed Never", v1.RestartPolicyNever, []runtime.Container{attempt("a", 0, exit0, 0), attempt("b", 0, exit1, 1)}, nil, "", v1.PodFailed},
		{"one failed OnFailure", v1.RestartPolicyOnFailure, []runtime.Container{attempt("a", 0, exit0, 0), attempt("b", 0, exit1, 1)}, nil, "", v1.PodRunning},
		{"all succeeded OnFailure", v1.RestartPolicyOnFailure, []runtime.Container{attempt("a", 0, exit0, 0), attempt("b", 0, exit0, 0)}, nil, "", v1.PodSucceeded},
		{"back-off counts as stopped", v1.RestartPolicyAlways,
			[]runtime.Container{attempt("a", 1, exit1, 1), attempt("b", 0, run, 0)},
			map[string]waiting{"a": {Reason: "CrashLoopBackOff"}}, "", v1.PodRunning},
		{"image pull error keeps Pending", v1.RestartPolicyAlways,
			[]runtime.Container{attempt("b", 0, run, 0)},
			map[string]waiting{"a": {Reason: "ErrImagePull"}}, "", v1.PodPending},
		{"terminal stays terminal", v1.RestartPolicyNever, []runtime.Container{attempt("a", 0, run, 0), attempt("b", 0, run, 0)}, nil, v1.PodSucceeded, v1.PodSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPod("p", "u", tt.policy, "a", "b")
			in := statusInput{pod: p, obs: observe(tt.obs), waiting: tt.waiting, now: time.Now(), sandboxOK: true}
			if tt.prev != "" {
				in.prev = &v1.PodStatus{Phase: tt.prev}
			}
			if tt.waiting == nil {
				in.waiting = map[string]waiting{}
			}
			s := computeStatus(in)
			if s.Phase != tt.want {
				t.Fatalf("phase %s, want %s", s.Phase, tt.want)
			}
		})
	}
}

func TestContainerStatusStates(t *testing.T) {
	p := testPod("p", "u", v1.RestartPolicyAlways, "a")
	cur := attempt("a", 2, runtime.StateRunning, 0)
	prev := attempt("a", 1, runtime.StateExited, 137)
	prev.OOMKilled = true
	s := computeStatus(statusInput{pod: p, obs: observe([]runtime.Container{prev, cur}), waiting: map[string]waiting{}, now: time.Now(), sandboxOK: true})
	cs := s.ContainerStatuses[0]
	if cs.RestartCount != 2 || cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started {
		t.Fatalf("status %+v", cs)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.Reason != "OOMKilled" || lt.ExitCode != 137 {
		t.Fatalf("lastState %+v", cs.LastTerminationState)
	}
	cannot := attempt("a", 0, runtime.StateExited, 128)
	cannot.StartError = `exec: "nope": executable file not found in $PATH`
	s = computeStatus(statusInput{pod: p, obs: observe([]runtime.Container{cannot}), waiting: map[string]waiting{}, now: time.Now()})
	if term := s.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "ContainerCannotRun" || term.Message != cannot.StartError {
		t.Fatalf("terminated %+v", term)
	}
	for _, c := range s.Conditions {
		if c.Type == v1.PodReadyToStartContainers && c.Status != v1.ConditionFalse {
			t.Error("no sandbox, but PodReadyToStartContainers is true")
		}
		if c.Type == v1.ContainersReady && (c.Status != v1.ConditionFalse || c.Message != "containers with unready status: [a]") {
			t.Errorf("ContainersReady %+v", c)
		}
	}
}

func TestInitContainersGateApps(t *testing.T) {
	p := testPod("p", "u", v1.RestartPolicyAlways, "app")
	p.Spec.InitContainers = []v1.Container{{Name: "init1", Image: "busybox:1"}, {Name: "init2", Image: "busybox:1"}}
	s := computeStatus(statusInput{pod: p, obs: observe([]runtime.Container{attempt("init1", 0, runtime.StateExited, 0), attempt("init2", 0, runtime.StateRunning, 0)}), waiting: map[string]waiting{}, now: time.Now(), sandboxOK: true})
	if s.Phase != v1.PodPending {
		t.Errorf("phase %s", s.Phase)
	}
	if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("app waiting %+v", w)
	}
	if s.InitContainerStatuses[1].Ready {
		t.Error("a running init container is not ready")
	}
	for _, c := range s.Conditions {
		if c.Type == v1.PodInitialized && (c.Status != v1.ConditionFalse || c.Reason != "ContainersNotInitialized") {
			t.Errorf("Initialized %+v", c)
		}
	}
}
