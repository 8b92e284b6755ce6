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

// newTableWriter aligns columns as kubectl's human-readable printer does:
// cells at least 6 wide, 3 spaces between columns, the last column not
// padded.
func newTableWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
}

// sortedPods returns pods ordered by namespace, then name: the order the
// API server lists them in, which kubectl users are used to.
func sortedPods(pods []v1.Pod) []*v1.Pod {
	out := make([]*v1.Pod, len(pods))
	for i := range pods {
		out[i] = &pods[i]
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// PrintPods writes pods as `kubectl get pods` does, sorted by namespace and
// name: columns NAME READY STATUS RESTARTS AGE; wide adds IP and NODE;
// allNamespaces puts NAMESPACE first. With no pods it writes nothing (not
// even the header), as kubectl does; see PrintPodsOrNone for the notice.
func PrintPods(w io.Writer, pods []v1.Pod, wide, allNamespaces bool, now time.Time) error {
	if len(pods) == 0 {
		return nil
	}
	tw := newTableWriter(w)
	header := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
	if allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	if wide {
		header = append(header, "IP", "NODE")
	}
	if _, err := fmt.Fprintln(tw, strings.Join(header, "\t")); err != nil {
		return fmt.Errorf("write pod table: %w", err)
	}
	for _, pod := range sortedPods(pods) {
		r := PodRowFor(pod, now)
		cells := []string{r.Name, r.Ready, r.Status, r.Restarts, r.Age}
		if allNamespaces {
			cells = append([]string{r.Namespace}, cells...)
		}
		if wide {
			cells = append(cells, r.IP, r.Node)
		}
		if _, err := fmt.Fprintln(tw, strings.Join(cells, "\t")); err != nil {
			return fmt.Errorf("write pod table: %w", err)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pod table: %w", err)
	}
	return nil
}

// NoResourcesMessage is the line kubectl prints to stderr when a list is
// empty: "No resources found in NS namespace." for one namespace, "No
// resources found" across all of them (or when namespace is empty).
func NoResourcesMessage(namespace string, allNamespaces bool) string {
	if allNamespaces || namespace == "" {
		return "No resources found"
	}
	return fmt.Sprintf("No resources found in %s namespace.", namespace)
}

// PrintPodsOrNone is PrintPods for a list command: with pods it prints the
// table to out; without, it prints NoResourcesMessage to errOut and
// reports empty=true (kubectl still exits 0 in that case).
func PrintPodsOrNone(out, errOut io.Writer, pods []v1.Pod, namespace string, wide, allNamespaces bool, now time.Time) (empty bool, err error) {
	if len(pods) == 0 {
		if _, err := fmt.Fprintln(errOut, NoResourcesMessage(namespace, allNamespaces)); err != nil {
			return true, fmt.Errorf("write notice: %w", err)
		}
		return true, nil
	}
	return false, PrintPods(out, pods, wide, allNamespaces, now)
}

// PrintNames writes one "pod/NAME" line per pod, as `-o name` does, in the
// same order as PrintPods.
func PrintNames(w io.Writer, pods []v1.Pod) error {
	for _, pod := range sortedPods(pods) {
		if _, err := fmt.Fprintf(w, "pod/%s\n", pod.Name); err != nil {
			return fmt.Errorf("write pod names: %w", err)
		}
	}
	return nil
}
