package printers

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func running() v1.ContainerState {
	return v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: ago(time.Minute)}}
}

func waiting(reason string) v1.ContainerState {
	return v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, code int32) v1.ContainerState {
	return v1.ContainerState{Terminated: &v1.ContainerStateTerminated{Reason: reason, ExitCode: code, FinishedAt: ago(time.Minute)}}
}

func status(name string, state v1.ContainerState, ready bool) v1.ContainerStatus {
	return v1.ContainerStatus{Name: name, State: state, Ready: ready}
}

// restarted gives s a restart count and a previous instance that finished
// the given time ago.
func restarted(s v1.ContainerStatus, n int32, finished time.Duration) v1.ContainerStatus {
	s.RestartCount = n
	s.LastTerminationState = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(finished)}}
	return s
}

func started(s v1.ContainerStatus) v1.ContainerStatus {
	t := true
	s.Started = &t
	return s
}

// mkPod builds a pod named default/web, created 10 minutes ago, with one
// app container per name.
func mkPod(phase v1.PodPhase, names []string, statuses []v1.ContainerStatus) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		Status:     v1.PodStatus{Phase: phase, ContainerStatuses: statuses},
	}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: n, Image: "nginx"})
	}
	return p
}

func withInit(p *v1.Pod, specs []v1.Container, statuses []v1.ContainerStatus) *v1.Pod {
	p.Spec.InitContainers = specs
	p.Status.InitContainerStatuses = statuses
	return p
}

func withCondition(p *v1.Pod, t v1.PodConditionType, s v1.ConditionStatus) *v1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: t, Status: s})
	return p
}

func deleting(p *v1.Pod) *v1.Pod {
	dt := metav1.NewTime(now.Add(20 * time.Second))
	p.DeletionTimestamp = &dt
	return p
}

func sidecar(name string) v1.Container {
	always := v1.ContainerRestartPolicyAlways
	return v1.Container{Name: name, RestartPolicy: &always}
}

func TestPodRowFor(t *testing.T) {
	one := []string{"app"}
	two := []string{"app", "helper"}
	inits := []v1.Container{{Name: "init-a"}, {Name: "init-b"}}

	tests := []struct {
		name                    string
		pod                     *v1.Pod
		ready, status, restarts string
	}{
		{"running", mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), true)}),
			"1/1", "Running", "0"},
		{"running not ready", mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), false)}),
			"0/1", "Running", "0"},
		{"pending without statuses", mkPod(v1.PodPending, one, nil),
			"0/1", "Pending", "0"},
		{"container creating", mkPod(v1.PodPending, one, []v1.ContainerStatus{status("app", waiting("ContainerCreating"), false)}),
			"0/1", "ContainerCreating", "0"},
		{"crash loop", mkPod(v1.PodRunning, one, []v1.ContainerStatus{restarted(status("app", waiting("CrashLoopBackOff"), false), 4, 30*time.Second)}),
			"0/1", "CrashLoopBackOff", "4 (30s ago)"},
		{"image pull back-off", mkPod(v1.PodPending, one, []v1.ContainerStatus{status("app", waiting("ImagePullBackOff"), false)}),
			"0/1", "ImagePullBackOff", "0"},
		{"completed", mkPod(v1.PodSucceeded, one, []v1.ContainerStatus{status("app", terminated("Completed", 0), false)}),
			"0/1", "Completed", "0"},
		{"error", mkPod(v1.PodFailed, one, []v1.ContainerStatus{status("app", terminated("Error", 1), false)}),
			"0/1", "Error", "0"},
		{"oom killed", mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", terminated("OOMKilled", 137), false)}),
			"0/1", "OOMKilled", "0"},
		{"exit code without reason", mkPod(v1.PodFailed, one, []v1.ContainerStatus{status("app", terminated("", 2), false)}),
			"0/1", "ExitCode:2", "0"},
		{"signal without reason", mkPod(v1.PodFailed, one, []v1.ContainerStatus{status("app", v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 137, Signal: 9}}, false)}),
			"0/1", "Signal:9", "0"},
		{"pod reason wins over phase", func() *v1.Pod {
			p := mkPod(v1.PodFailed, one, nil)
			p.Status.Reason = "SysctlForbidden"
			return p
		}(), "0/1", "SysctlForbidden", "0"},
		{"first container in spec order decides", mkPod(v1.PodRunning, two, []v1.ContainerStatus{
			status("app", waiting("CrashLoopBackOff"), false), status("helper", terminated("Error", 1), false)}),
			"0/2", "CrashLoopBackOff", "0"},
		{"completed back to running", withCondition(mkPod(v1.PodRunning, two, []v1.ContainerStatus{
			status("app", running(), true), status("helper", terminated("Completed", 0), false)}), v1.PodReady, v1.ConditionTrue),
			"1/2", "Running", "0"},
		{"completed to not ready", withCondition(mkPod(v1.PodRunning, two, []v1.ContainerStatus{
			status("app", running(), true), status("helper", terminated("Completed", 0), false)}), v1.PodReady, v1.ConditionFalse),
			"1/2", "NotReady", "0"},
		{"completed stays when the running one is not ready", mkPod(v1.PodRunning, two, []v1.ContainerStatus{
			status("app", running(), false), status("helper", terminated("Completed", 0), false)}),
			"0/2", "Completed", "0"},
		{"init 0/2", withInit(mkPod(v1.PodPending, one, []v1.ContainerStatus{status("app", waiting("PodInitializing"), false)}), inits,
			[]v1.ContainerStatus{status("init-a", running(), false), status("init-b", waiting("PodInitializing"), false)}),
			"0/1", "Init:0/2", "0"},
		{"init 1/2", withInit(mkPod(v1.PodPending, one, []v1.ContainerStatus{status("app", waiting("PodInitializing"), false)}), inits,
			[]v1.ContainerStatus{status("init-a", terminated("Completed", 0), false), status("init-b", running(), false)}),
			"0/1", "Init:1/2", "0"},
		{"init error", withInit(mkPod(v1.PodPending, one, nil), inits,
			[]v1.ContainerStatus{status("init-a", terminated("Error", 1), false), status("init-b", waiting("PodInitializing"), false)}),
			"0/1", "Init:Error", "0"},
		{"init exit code", withInit(mkPod(v1.PodPending, one, nil), inits,
			[]v1.ContainerStatus{status("init-a", terminated("", 3), false), status("init-b", waiting("PodInitializing"), false)}),
			"0/1", "Init:ExitCode:3", "0"},
		{"init crash loop counts init restarts", withInit(mkPod(v1.PodPending, one, nil), inits,
			[]v1.ContainerStatus{restarted(status("init-a", waiting("CrashLoopBackOff"), false), 3, time.Minute), status("init-b", waiting("PodInitializing"), false)}),
			"0/1", "Init:CrashLoopBackOff", "3 (60s ago)"},
		{"pod initializing", withInit(mkPod(v1.PodPending, one, []v1.ContainerStatus{status("app", waiting("PodInitializing"), false)}), inits,
			[]v1.ContainerStatus{status("init-a", terminated("Completed", 0), false), status("init-b", terminated("Completed", 0), false)}),
			"0/1", "PodInitializing", "0"},
		{"initialized pod drops old init restarts", withInit(mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), true)}), inits,
			[]v1.ContainerStatus{restarted(status("init-a", terminated("Completed", 0), false), 2, time.Hour), status("init-b", terminated("Completed", 0), false)}),
			"1/1", "Running", "0"},
		{"sidecar counts in ready", withInit(mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), true)}),
			[]v1.Container{{Name: "init-a"}, sidecar("proxy")},
			[]v1.ContainerStatus{status("init-a", terminated("Completed", 0), false), started(status("proxy", running(), true))}),
			"2/2", "Running", "0"},
		{"sidecar not ready", withInit(mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), true)}),
			[]v1.Container{sidecar("proxy")},
			[]v1.ContainerStatus{started(status("proxy", running(), false))}),
			"1/2", "Running", "0"},
		{"sidecar restarts count after init", withInit(mkPod(v1.PodRunning, one, []v1.ContainerStatus{restarted(status("app", running(), true), 1, 10*time.Minute)}),
			[]v1.Container{sidecar("proxy")},
			[]v1.ContainerStatus{started(restarted(status("proxy", running(), true), 2, 2*time.Minute))}),
			"2/2", "Running", "3 (2m ago)"},
		{"sidecar not started blocks init", withInit(mkPod(v1.PodPending, one, nil),
			[]v1.Container{sidecar("proxy"), {Name: "init-b"}},
			[]v1.ContainerStatus{status("proxy", running(), false), status("init-b", waiting("PodInitializing"), false)}),
			"0/2", "Init:0/2", "0"},
		{"restarts with age", mkPod(v1.PodRunning, one, []v1.ContainerStatus{restarted(status("app", running(), true), 3, 5*time.Minute)}),
			"1/1", "Running", "3 (5m ago)"},
		{"restarts without last state", mkPod(v1.PodRunning, one, []v1.ContainerStatus{func() v1.ContainerStatus {
			s := status("app", running(), true)
			s.RestartCount = 2
			return s
		}()}), "1/1", "Running", "2"},
		{"restarts summed, newest finish shown", mkPod(v1.PodRunning, two, []v1.ContainerStatus{
			restarted(status("app", running(), true), 1, time.Hour), restarted(status("helper", running(), true), 2, 90*time.Second)}),
			"2/2", "Running", "3 (90s ago)"},
		{"terminating", deleting(mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), true)})),
			"1/1", "Terminating", "0"},
		{"terminal pod is not terminating", deleting(mkPod(v1.PodSucceeded, one, []v1.ContainerStatus{status("app", terminated("Completed", 0), false)})),
			"0/1", "Completed", "0"},
		{"node lost", func() *v1.Pod {
			p := deleting(mkPod(v1.PodRunning, one, []v1.ContainerStatus{status("app", running(), true)}))
			p.Status.Reason = "NodeLost"
			return p
		}(), "1/1", "Unknown", "0"},
		{"scheduling gated", func() *v1.Pod {
			p := mkPod(v1.PodPending, one, nil)
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonSchedulingGated}}
			return p
		}(), "0/1", "SchedulingGated", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodRowFor(tt.pod, now)
			if got.Ready != tt.ready || got.Status != tt.status || got.Restarts != tt.restarts {
				t.Errorf("got READY %q STATUS %q RESTARTS %q, want %q %q %q",
					got.Ready, got.Status, got.Restarts, tt.ready, tt.status, tt.restarts)
			}
			if got.Name != "web" || got.Namespace != "default" || got.Age != "10m" {
				t.Errorf("got name %q ns %q age %q", got.Name, got.Namespace, got.Age)
			}
		})
	}
}

func TestPodRowForWideCells(t *testing.T) {
	p := mkPod(v1.PodRunning, []string{"app"}, nil)
	p.CreationTimestamp = metav1.Time{}
	r := PodRowFor(p, now)
	if r.IP != "<none>" || r.Node != "<none>" || r.Age != "<unknown>" {
		t.Errorf("empty cells: got IP %q Node %q Age %q", r.IP, r.Node, r.Age)
	}
	p.Spec.NodeName = "edge-1"
	p.Status.PodIP = "10.88.0.9"
	p.Status.PodIPs = []v1.PodIP{{IP: "10.88.0.9"}, {IP: "fd00::9"}}
	r = PodRowFor(p, now)
	if r.IP != "10.88.0.9" || r.Node != "edge-1" {
		t.Errorf("got IP %q Node %q", r.IP, r.Node)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-5 * time.Second:              "<invalid>",
		-time.Second:                  "0s",
		5 * time.Second:               "5s",
		119 * time.Second:             "119s",
		3*time.Minute + 2*time.Second: "3m2s",
		10 * time.Minute:              "10m",
		5*time.Hour + 3*time.Minute:   "5h3m",
		(2*24 + 3) * time.Hour:        "2d3h",
		400 * 24 * time.Hour:          "400d",
		(3*365 + 45) * 24 * time.Hour: "3y45d",
		10 * 365 * 24 * time.Hour:     "10y",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
