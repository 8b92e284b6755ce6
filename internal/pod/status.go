package pod

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/spec"
)

// observed is what the worker saw of one pod in the runtime, grouped.
type observed struct {
	sandboxes  []runtime.Container // by attempt, newest last
	containers map[string][]runtime.Container
	// at is when the runtime was asked.
	at time.Time
}

func observe(cs []runtime.Container) observed {
	o := observed{containers: map[string][]runtime.Container{}}
	for _, c := range cs {
		switch c.Labels[runtime.LabelKind] {
		case runtime.KindSandbox:
			o.sandboxes = append(o.sandboxes, c)
		case runtime.KindContainer:
			name := c.Labels[runtime.LabelContainerName]
			o.containers[name] = append(o.containers[name], c)
		}
	}
	byAttempt := func(s []runtime.Container) {
		sort.Slice(s, func(i, j int) bool { return s[i].Attempt() < s[j].Attempt() })
	}
	byAttempt(o.sandboxes)
	for _, s := range o.containers {
		byAttempt(s)
	}
	return o
}

// oldestSandbox returns the first sandbox the pod had (still there), if
// any: when the pod started on the node.
func (o observed) oldestSandbox() *runtime.Container {
	if len(o.sandboxes) == 0 {
		return nil
	}
	return &o.sandboxes[0]
}

// newestSandbox returns the newest sandbox, if any: the one the pod's
// containers run in.
func (o observed) newestSandbox() *runtime.Container {
	if len(o.sandboxes) == 0 {
		return nil
	}
	return &o.sandboxes[len(o.sandboxes)-1]
}

// latest and previous attempts of a container.
func (o observed) latest(name string) *runtime.Container {
	s := o.containers[name]
	if len(s) == 0 {
		return nil
	}
	return &s[len(s)-1]
}

func (o observed) previous(name string) *runtime.Container {
	s := o.containers[name]
	if len(s) < 2 {
		return nil
	}
	return &s[len(s)-2]
}

// waiting is a reason the worker holds for a container that is not running
// (a failed pull, a scheduled restart).
type waiting struct {
	Reason, Message string
	// Since is when the reason was set (used to time ErrImagePull's turn
	// into ImagePullBackOff).
	Since time.Time
}

// statusInput is everything the pod status is computed from.
type statusInput struct {
	pod       *v1.Pod
	obs       observed
	waiting   map[string]waiting
	prev      *v1.PodStatus // the last status reported, nil at first
	now       time.Time
	hostIP    string
	podIP     string
	started   time.Time
	sandboxOK bool
	// probes gives running attempts' startup and readiness results; nil
	// means no probes.
	probes probeState
	// postStartRunning is the attempt whose postStart hook still runs: not Running
	// yet, as far as anyone outside is concerned.
	postStartRunning string
	// failed ends the pod as a whole (SysctlForbidden, DeadlineExceeded).
	failed *podFailure
}

// terminatedState renders an exited attempt as the kubelet does.
func terminatedState(c *runtime.Container) *v1.ContainerStateTerminated {
	t := &v1.ContainerStateTerminated{
		ExitCode:    c.ExitCode,
		StartedAt:   metav1.NewTime(c.StartedAt),
		FinishedAt:  metav1.NewTime(c.FinishedAt),
		ContainerID: "containerd://" + c.ID,
	}
	switch {
	case c.StartError != "":
		t.Reason, t.Message = "ContainerCannotRun", c.StartError
	case c.OOMKilled:
		t.Reason = "OOMKilled"
	case c.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	if t.Message == "" {
		t.Message = c.Labels[labelTerminationMessage]
	}
	return t
}

// containerStatus computes one container's status.
func containerStatus(in statusInput, c *v1.Container, defaultWaiting string) v1.ContainerStatus {
	st := v1.ContainerStatus{Name: c.Name, Image: c.Image}
	cur, prev := in.obs.latest(c.Name), in.obs.previous(c.Name)
	if cur != nil {
		st.RestartCount = int32(cur.Attempt())
		st.ContainerID = "containerd://" + cur.ID
		st.ImageID = cur.ImageID
	}
	f := false
	st.Started = &f
	w, isWaiting := in.waiting[c.Name]
	switch {
	case cur != nil && cur.State == runtime.StateRunning && cur.ID == in.postStartRunning:
		st.State.Waiting = &v1.ContainerStateWaiting{Reason: "ContainerCreating"}
		if prev != nil && prev.State == runtime.StateExited {
			st.LastTerminationState.Terminated = terminatedState(prev)
		}
	case cur != nil && cur.State == runtime.StateRunning:
		st.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
		started, ready := true, true
		if in.probes != nil {
			started = in.probes.Started(cur.ID)
			ready = started && in.probes.Ready(cur.ID)
		}
		st.Started = &started
		st.Ready = ready
		if prev != nil && prev.State == runtime.StateExited {
			st.LastTerminationState.Terminated = terminatedState(prev)
		}
	case isWaiting:
		st.State.Waiting = &v1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
		if cur != nil && cur.State == runtime.StateExited {
			st.LastTerminationState.Terminated = terminatedState(cur)
		}
	case cur != nil && cur.State == runtime.StateExited:
		st.State.Terminated = terminatedState(cur)
		if prev != nil && prev.State == runtime.StateExited {
			st.LastTerminationState.Terminated = terminatedState(prev)
		}
	default:
		st.State.Waiting = &v1.ContainerStateWaiting{Reason: defaultWaiting}
	}
	return st
}

// computeStatus builds the pod's status from what was observed.
func computeStatus(in statusInput) v1.PodStatus {
	pod := in.pod
	s := v1.PodStatus{
		HostIP:   in.hostIP,
		QOSClass: spec.QOSClass(pod),
	}
	if in.hostIP != "" {
		s.HostIPs = []v1.HostIP{{IP: in.hostIP}}
	}
	podIP := in.podIP
	if pod.Spec.HostNetwork {
		podIP = in.hostIP
	}
	if podIP != "" {
		s.PodIP = podIP
		s.PodIPs = []v1.PodIP{{IP: podIP}}
	}
	if !in.started.IsZero() {
		t := metav1.NewTime(in.started)
		s.StartTime = &t
	}
	initWaiting := "PodInitializing"
	if in.failed != nil {
		initWaiting = ""
	}
	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := containerStatus(in, c, initWaiting)
		if cs.State.Running != nil && !isSidecar(c) {
			cs.Ready = false
		}
		if !initContainerDone(in.obs, c) {
			initDone = false
		}
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
	}
	appWaiting := "ContainerCreating"
	if !initDone {
		appWaiting = "PodInitializing"
	}
	if in.failed != nil {
		// Nothing will run: no reason that would hide the pod's own in
		// the STATUS column.
		appWaiting = ""
	}
	var notReady []string
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := containerStatus(in, c, appWaiting)
		if !cs.Ready {
			notReady = append(notReady, c.Name)
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	s.Phase = phase(pod, s, initDone)
	if in.failed != nil {
		s.Phase, s.Reason, s.Message = v1.PodFailed, in.failed.Reason, in.failed.Message
	}
	if in.prev != nil && (in.prev.Phase == v1.PodSucceeded || in.prev.Phase == v1.PodFailed) {
		// Terminal phases stay terminal, whatever the runtime says later.
		s.Phase = in.prev.Phase
	}
	s.Conditions = conditions(in, s, initDone, notReady)
	return s
}

// isSidecar reports a restartable init container.
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// initContainerDone: a regular init container succeeded, a sidecar started.
func initContainerDone(o observed, c *v1.Container) bool {
	cur := o.latest(c.Name)
	if cur == nil {
		return false
	}
	if isSidecar(c) {
		return cur.State == runtime.StateRunning || cur.Attempt() > 0 || cur.State == runtime.StateExited
	}
	for _, a := range o.containers[c.Name] {
		if a.State == runtime.StateExited && a.ExitCode == 0 && a.StartError == "" {
			return true
		}
	}
	return false
}

// phase applies the kubelet's rules: waiting containers (that never ran)
// keep the pod Pending; a stopped container that will restart counts as
// running under Always and OnFailure.
func phase(pod *v1.Pod, s v1.PodStatus, initDone bool) v1.PodPhase {
	policy := pod.Spec.RestartPolicy
	for _, cs := range s.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && policy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
	}
	if !initDone {
		return v1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, cs := range s.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
				if cs.LastTerminationState.Terminated.ExitCode == 0 {
					succeeded++
				}
			} else {
				waiting++
			}
		}
	}
	switch {
	case waiting > 0:
		return v1.PodPending
	case running > 0:
		return v1.PodRunning
	case stopped > 0:
		switch {
		case policy == v1.RestartPolicyAlways:
			return v1.PodRunning
		case stopped == succeeded:
			return v1.PodSucceeded
		case policy == v1.RestartPolicyOnFailure:
			return v1.PodRunning
		default:
			return v1.PodFailed
		}
	}
	return v1.PodPending
}

func condition(t v1.PodConditionType, ok bool, reason, msg string, now time.Time) v1.PodCondition {
	c := v1.PodCondition{Type: t, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}
	if !ok {
		c.Status, c.Reason, c.Message = v1.ConditionFalse, reason, msg
	}
	return c
}

func conditions(in statusInput, s v1.PodStatus, initDone bool, notReady []string) []v1.PodCondition {
	now := in.now
	terminal := s.Phase == v1.PodSucceeded || s.Phase == v1.PodFailed
	ready := len(notReady) == 0 && !terminal
	reason, msg := "", ""
	if !ready {
		reason = "ContainersNotReady"
		msg = fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
		if terminal {
			reason, msg = "PodCompleted", ""
		}
	}
	var initMsg string
	if !initDone {
		var pending []string
		for _, cs := range s.InitContainerStatuses {
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
				pending = append(pending, cs.Name)
			}
		}
		initMsg = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pending, " "))
	}
	conds := []v1.PodCondition{
		condition(v1.PodReadyToStartContainers, in.sandboxOK, "", "", now),
		condition(v1.PodInitialized, initDone, "ContainersNotInitialized", initMsg, now),
		condition(v1.PodReady, ready, reason, msg, now),
		condition(v1.ContainersReady, ready, reason, msg, now),
		condition(v1.PodScheduled, true, "", "", now),
	}
	if in.failed != nil && in.failed.Reason == "Evicted" {
		// As the kubelet marks the pods it evicts.
		c := condition(v1.DisruptionTarget, true, "", "", now)
		c.Reason, c.Message = v1.PodReasonTerminationByKubelet, in.failed.Message
		conds = append(conds, c)
	}
	return conds
}
