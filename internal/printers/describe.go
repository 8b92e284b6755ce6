package printers

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
)

// lastAppliedAnnotation is hidden from Annotations, as kubectl hides it.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// maxAnnotationLen is the width past which an annotation value is printed
// on lines of its own, each cut short with "...".
const maxAnnotationLen = 140

// describeWriter writes indented "Key:\tvalue" lines into a tabwriter, so
// that consecutive lines align their values the way kubectl describe's
// output does. The first write error is kept and later writes are skipped.
type describeWriter struct {
	tw  *tabwriter.Writer
	err error
}

func newDescribeWriter(w io.Writer) *describeWriter {
	return &describeWriter{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

// write writes level*2 spaces, then the formatted text (which may be a
// partial line).
func (d *describeWriter) write(level int, format string, args ...any) {
	if d.err != nil {
		return
	}
	_, d.err = fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format, args...)
}

// flush ends the current alignment block.
func (d *describeWriter) flush() {
	if d.err == nil {
		d.err = d.tw.Flush()
	}
}

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func rfc1123z(t time.Time) string { return t.Format(time.RFC1123Z) }

// DescribePod writes what `kubectl describe pod` shows for pod, with
// events (any order; they are shown oldest first) and ages relative to
// now. A deleted pod shows "Terminating (lasts D)", D being how long until
// the deletion deadline if it lies ahead, else how long it has passed:
// kubectl prints "<invalid>" in the first case.
func DescribePod(w io.Writer, pod *v1.Pod, events []v1.Event, now time.Time) error {
	d := newDescribeWriter(w)
	d.write(0, "Name:\t%s\n", pod.Name)
	d.write(0, "Namespace:\t%s\n", pod.Namespace)
	if pod.Spec.Priority != nil {
		d.write(0, "Priority:\t%d\n", *pod.Spec.Priority)
	}
	if pod.Spec.PriorityClassName != "" {
		d.write(0, "Priority Class Name:\t%s\n", pod.Spec.PriorityClassName)
	}
	if rc := pod.Spec.RuntimeClassName; rc != nil && *rc != "" {
		d.write(0, "Runtime Class Name:\t%s\n", *rc)
	}
	if pod.Spec.ServiceAccountName != "" {
		d.write(0, "Service Account:\t%s\n", pod.Spec.ServiceAccountName)
	}
	if pod.Spec.NodeName == "" {
		d.write(0, "Node:\t%s\n", none)
	} else {
		d.write(0, "Node:\t%s/%s\n", pod.Spec.NodeName, pod.Status.HostIP)
	}
	if pod.Status.StartTime != nil {
		d.write(0, "Start Time:\t%s\n", rfc1123z(pod.Status.StartTime.Time))
	}
	writeMap(d, "Labels", pod.Labels)
	writeAnnotations(d, pod.Annotations)
	if dt := pod.DeletionTimestamp; dt != nil && pod.Status.Phase != v1.PodFailed && pod.Status.Phase != v1.PodSucceeded {
		left := now.Sub(dt.Time)
		if left < 0 {
			left = -left
		}
		d.write(0, "Status:\tTerminating (lasts %s)\n", HumanDuration(left))
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			d.write(0, "Termination Grace Period:\t%ds\n", *g)
		}
	} else {
		d.write(0, "Status:\t%s\n", pod.Status.Phase)
	}
	if pod.Status.Reason != "" {
		d.write(0, "Reason:\t%s\n", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		d.write(0, "Message:\t%s\n", pod.Status.Message)
	}
	if sc := pod.Spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		writeSeccomp(d, 0, sc.SeccompProfile)
	}
	d.write(0, "IP:\t%s\n", pod.Status.PodIP)
	if len(pod.Status.PodIPs) == 0 {
		d.write(0, "IPs:\t%s\n", none)
	} else {
		d.write(0, "IPs:\n")
		for _, ip := range pod.Status.PodIPs {
			d.write(1, "IP:\t%s\n", ip.IP)
		}
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			d.write(0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
			break
		}
	}
	if pod.Status.NominatedNodeName != "" {
		d.write(0, "NominatedNodeName:\t%s\n", pod.Status.NominatedNodeName)
	}
	if pod.Spec.Resources != nil {
		d.write(0, "Resources:\n")
		writeResources(d, 1, pod.Spec.Resources)
	}
	if len(pod.Spec.InitContainers) > 0 {
		writeContainers(d, "Init Containers", pod, pod.Spec.InitContainers, pod.Status.InitContainerStatuses)
	}
	writeContainers(d, "Containers", pod, pod.Spec.Containers, pod.Status.ContainerStatuses)
	if len(pod.Spec.EphemeralContainers) > 0 {
		ec := make([]v1.Container, 0, len(pod.Spec.EphemeralContainers))
		for _, e := range pod.Spec.EphemeralContainers {
			ec = append(ec, v1.Container(e.EphemeralContainerCommon))
		}
		writeContainers(d, "Ephemeral Containers", pod, ec, pod.Status.EphemeralContainerStatuses)
	}
	if len(pod.Spec.ReadinessGates) > 0 {
		d.write(0, "Readiness Gates:\n  Type\tStatus\n")
		for _, g := range pod.Spec.ReadinessGates {
			status := none
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					status = string(c.Status)
					break
				}
			}
			d.write(1, "%s \t%s \n", g.ConditionType, status)
		}
	}
	if len(pod.Status.Conditions) > 0 {
		d.write(0, "Conditions:\n  Type\tStatus\n")
		for _, c := range pod.Status.Conditions {
			d.write(1, "%s \t%s \n", c.Type, c.Status)
		}
	}
	writeVolumes(d, pod.Spec.Volumes)
	d.write(0, "QoS Class:\t%s\n", QOSClass(pod))
	writeMap(d, "Node-Selectors", pod.Spec.NodeSelector)
	writeTolerations(d, pod.Spec.Tolerations)
	writeEvents(d, events, now)
	d.flush()
	if d.err != nil {
		return fmt.Errorf("describe pod %s/%s: %w", pod.Namespace, pod.Name, d.err)
	}
	return nil
}

func writeSeccomp(d *describeWriter, level int, p *v1.SeccompProfile) {
	d.write(level, "SeccompProfile:\t%s\n", p.Type)
	if p.Type == v1.SeccompProfileTypeLocalhost && p.LocalhostProfile != nil {
		d.write(level+1, "LocalhostProfile:\t%s\n", *p.LocalhostProfile)
	}
}

// writeMap writes "Title:\tk=v" with one sorted key per line, or <none>.
func writeMap(d *describeWriter, title string, m map[string]string) {
	d.write(0, "%s:\t", title)
	if len(m) == 0 {
		d.write(0, "%s\n", none)
		return
	}
	keys := sortedKeys(m)
	for i, k := range keys {
		if i > 0 {
			d.write(0, "\t")
		}
		d.write(0, "%s=%s\n", k, m[k])
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeAnnotations writes "key: value" lines; long or multi-line values
// go below their key, one shortened line each.
func writeAnnotations(d *describeWriter, m map[string]string) {
	d.write(0, "Annotations:\t")
	keys := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		if k != lastAppliedAnnotation {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		d.write(0, "%s\n", none)
		return
	}
	for i, k := range keys {
		if i > 0 {
			d.write(0, "\t")
		}
		v := strings.TrimSuffix(m[k], "\n")
		if len(k)+len(v)+2 <= maxAnnotationLen && !strings.Contains(v, "\n") {
			d.write(0, "%s: %s\n", k, v)
			continue
		}
		d.write(0, "%s:\n", k)
		for _, line := range strings.Split(v, "\n") {
			if len(line) > maxAnnotationLen-2 {
				line = line[:maxAnnotationLen-2] + "..."
			}
			d.write(0, "\t  %s\n", line)
		}
	}
}

// writeResources writes the Limits and Requests blocks, names sorted.
func writeResources(d *describeWriter, level int, r *v1.ResourceRequirements) {
	for _, block := range []struct {
		title string
		list  v1.ResourceList
	}{{"Limits", r.Limits}, {"Requests", r.Requests}} {
		if len(block.list) == 0 {
			continue
		}
		d.write(level, "%s:\n", block.title)
		names := make([]string, 0, len(block.list))
		for n := range block.list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := block.list[v1.ResourceName(n)]
			d.write(level+1, "%s:\t%s\n", n, q.String())
		}
	}
}

// writeTolerations writes one toleration per line, sorted by key, in
// kubectl's "key=value:Effect op=Exists for 300s" form.
func writeTolerations(d *describeWriter, tols []v1.Toleration) {
	d.write(0, "Tolerations:\t")
	if len(tols) == 0 {
		d.write(0, "%s\n", none)
		return
	}
	sorted := append([]v1.Toleration(nil), tols...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for i, t := range sorted {
		if i > 0 {
			d.write(0, "\t")
		}
		var b strings.Builder
		b.WriteString(t.Key)
		if t.Value != "" {
			b.WriteString("=" + t.Value)
		}
		if t.Effect != "" {
			b.WriteString(":" + string(t.Effect))
		}
		if t.Operator == v1.TolerationOpExists && t.Value == "" {
			if t.Key != "" || t.Effect != "" {
				b.WriteString(" ")
			}
			b.WriteString("op=Exists")
		}
		if t.TolerationSeconds != nil {
			fmt.Fprintf(&b, " for %ds", *t.TolerationSeconds)
		}
		d.write(0, "%s\n", b.String())
	}
}

// writeEvents writes the Events table, oldest (by last timestamp) first,
// or "Events:\t<none>". The table is its own alignment block.
func writeEvents(d *describeWriter, events []v1.Event, now time.Time) {
	if len(events) == 0 {
		d.write(0, "Events:\t%s\n", none)
		return
	}
	d.flush()
	sorted := append([]v1.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return sorted[i].LastTimestamp.Before(&sorted[j].LastTimestamp)
	})
	d.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	d.write(1, "----\t------\t----\t----\t-------\n")
	for _, e := range sorted {
		d.write(1, "%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, EventAge(&e, now), eventSource(&e), strings.TrimSpace(e.Message))
	}
}

// EventAge is the Age cell of an event in describe output: "10s" for a
// single occurrence, "30s (x3 over 2m)" for a repeated one (last seen,
// count, first seen), with kubectl's fallbacks between the core/v1 and
// events.k8s.io time fields.
func EventAge(e *v1.Event, now time.Time) string {
	first := Since(e.EventTime.Time, now)
	if e.EventTime.IsZero() {
		first = Since(e.FirstTimestamp.Time, now)
	}
	switch {
	case e.Series != nil:
		return fmt.Sprintf("%s (x%d over %s)", Since(e.Series.LastObservedTime.Time, now), e.Series.Count, first)
	case e.Count > 1:
		return fmt.Sprintf("%s (x%d over %s)", Since(e.LastTimestamp.Time, now), e.Count, first)
	}
	return first
}

func eventSource(e *v1.Event) string {
	if e.Source.Component != "" {
		return e.Source.Component
	}
	return e.ReportingController
}
