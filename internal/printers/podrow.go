package printers

import (
	"fmt"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// nodeLostReason is the pod reason the node lifecycle controller sets when
// the node stopped reporting; kubectl shows such a deleted pod as Unknown.
const nodeLostReason = "NodeLost"

// none is what kubectl prints for an empty cell.
const none = "<none>"

// PodRow is what `get pods` shows for one pod, computed exactly as kubectl
// computes it. Every field holds the text of its cell: IP and Node are
// "<none>" when unset, Age is "<unknown>" without a creation timestamp.
type PodRow struct {
	Name      string
	Namespace string
	// Ready is "ready/total", counting restartable init containers
	// (sidecars) in both numbers.
	Ready string
	// Status is kubectl's STATUS column (phase, reason, Init:N/M, ...).
	Status string
	// Restarts is "0", "3" or, when a previous instance has a finish
	// time, "3 (2m ago)" as kubectl >= 1.24 prints it.
	Restarts string
	Age      string
	IP       string
	Node     string
}

// HumanDuration renders a duration the way kubectl renders ages: "5s",
// "3m2s", "10m", "5h3m", "2d3h", "400d", "3y45d" and so on, "0s" for a
// small negative skew and "<invalid>" for a larger one. It is
// apimachinery's duration.HumanDuration.
func HumanDuration(d time.Duration) string {
	return duration.HumanDuration(d)
}

// Since renders the age of t at now as kubectl does, "<unknown>" for a
// zero time.
func Since(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(t))
}

// isSidecar reports whether c is a restartable init container.
func isSidecar(c *v1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

func conditionTrue(pod *v1.Pod, t v1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// restartTally sums restart counts and remembers the newest finish time of
// a previous instance.
type restartTally struct {
	count int
	last  metav1.Time
}

func (r *restartTally) add(s *v1.ContainerStatus) {
	r.count += int(s.RestartCount)
	if t := s.LastTerminationState.Terminated; t != nil && r.last.Before(&t.FinishedAt) {
		r.last = t.FinishedAt
	}
}

func (r restartTally) String(now time.Time) string {
	if r.count != 0 && !r.last.IsZero() {
		return fmt.Sprintf("%d (%s ago)", r.count, Since(r.last.Time, now))
	}
	return strconv.Itoa(r.count)
}

// PodRowFor computes the `get pods` row of pod at time now.
//
// The rules are kubectl's printPod:
//   - STATUS starts as the phase, replaced by status.reason when set (and by
//     SchedulingGated when the PodScheduled condition says so).
//   - Init container statuses are walked in order; one that exited 0, or a
//     started sidecar, is done. The first that is not done decides:
//     terminated → "Init:<reason>" (or Init:Signal:N / Init:ExitCode:N),
//     waiting with a reason other than PodInitializing → "Init:<reason>",
//     anything else → "Init:<i>/<n>".
//   - Unless still initializing (and the Initialized condition is not
//     true), app container statuses are walked from last to first, so the
//     first container in spec order that is waiting with a reason or
//     terminated decides (its reason, else "ExitCode:N"/"Signal:N"). Running and ready
//     containers count as ready; "Completed" turns back into "Running"
//     (pod Ready condition true) or "NotReady" while one still runs ready.
//   - A deletion timestamp makes it "Terminating" unless the phase is
//     terminal, or "Unknown" when the reason is NodeLost.
//
// RESTARTS counts init containers only while the pod is initializing;
// afterwards only sidecars and app containers count, as in kubectl.
func PodRowFor(pod *v1.Pod, now time.Time) PodRow {
	ready := 0
	total := len(pod.Spec.Containers)

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodScheduled && c.Reason == v1.PodReasonSchedulingGated {
			reason = v1.PodReasonSchedulingGated
		}
	}

	initSpecs := make(map[string]*v1.Container, len(pod.Spec.InitContainers))
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		initSpecs[c.Name] = c
		if isSidecar(c) {
			total++
		}
	}

	var all, sidecars restartTally
	initializing := false
	for i := range pod.Status.InitContainerStatuses {
		s := &pod.Status.InitContainerStatuses[i]
		all.add(s)
		sidecar := isSidecar(initSpecs[s.Name])
		if sidecar {
			sidecars.add(s)
		}
		switch {
		case s.State.Terminated != nil && s.State.Terminated.ExitCode == 0:
			continue
		case sidecar && s.Started != nil && *s.Started:
			// A started sidecar lets the next init container run; it
			// counts in READY like an app container.
			if s.Ready {
				ready++
			}
			continue
		}
		reason = initBlocked(s, i, len(pod.Spec.InitContainers))
		initializing = true
		break
	}

	restarts := all
	if !initializing || conditionTrue(pod, v1.PodInitialized) {
		// Once initialized, plain init containers' restarts are history
		// kubectl no longer shows.
		restarts = sidecars
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			s := &pod.Status.ContainerStatuses[i]
			restarts.add(s)
			switch {
			case s.State.Waiting != nil && s.State.Waiting.Reason != "":
				reason = s.State.Waiting.Reason
			case s.State.Terminated != nil && s.State.Terminated.Reason != "":
				reason = s.State.Terminated.Reason
			case s.State.Terminated != nil:
				reason = exitText("", s.State.Terminated)
			case s.Ready && s.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" && hasRunning {
			if conditionTrue(pod, v1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			reason = "Unknown"
		case pod.Status.Phase != v1.PodSucceeded && pod.Status.Phase != v1.PodFailed:
			reason = "Terminating"
		}
	}

	row := PodRow{
		Name:      pod.Name,
		Namespace: pod.Namespace,
		Ready:     fmt.Sprintf("%d/%d", ready, total),
		Status:    reason,
		Restarts:  restarts.String(now),
		Age:       Since(pod.CreationTimestamp.Time, now),
		IP:        none,
		Node:      none,
	}
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIPs[0].IP != "" {
		row.IP = pod.Status.PodIPs[0].IP
	}
	if pod.Spec.NodeName != "" {
		row.Node = pod.Spec.NodeName
	}
	return row
}

// initBlocked is the STATUS text of the first init container that is
// neither done nor a started sidecar; s is at index i of n.
func initBlocked(s *v1.ContainerStatus, i, n int) string {
	switch {
	case s.State.Terminated != nil && s.State.Terminated.Reason != "":
		return "Init:" + s.State.Terminated.Reason
	case s.State.Terminated != nil:
		return exitText("Init:", s.State.Terminated)
	case s.State.Waiting != nil && s.State.Waiting.Reason != "" && s.State.Waiting.Reason != "PodInitializing":
		return "Init:" + s.State.Waiting.Reason
	default:
		return fmt.Sprintf("Init:%d/%d", i, n)
	}
}

// exitText names a termination that carries no reason.
func exitText(prefix string, t *v1.ContainerStateTerminated) string {
	if t.Signal != 0 {
		return fmt.Sprintf("%sSignal:%d", prefix, t.Signal)
	}
	return fmt.Sprintf("%sExitCode:%d", prefix, t.ExitCode)
}
