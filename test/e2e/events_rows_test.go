package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Helpers that read a pod's events and its `get pods` row, shared by the
// tests of every feature. They take the calling test's t, which may be a
// subtest of the one that started the daemon.

// podEvents returns the events of one pod (GET /events).
func podEvents(t *testing.T, d *daemon, ns, name string) []v1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := d.client.Events(ctx, ns, name)
	if err != nil {
		t.Fatalf("GET /events for %s/%s: %v", ns, name, err)
	}
	return list.Items
}

// eventList formats events for failure messages.
func eventList(evs []v1.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %s (x%d): %q", e.Type, e.Reason, e.InvolvedObject.FieldPath, e.Count, e.Message)
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// findEvent returns the first event with this type and reason whose
// message has prefix and contains every one of contains.
func findEvent(evs []v1.Event, typ, reason, prefix string, contains ...string) *v1.Event {
next:
	for i, e := range evs {
		if e.Type != typ || e.Reason != reason || !strings.HasPrefix(e.Message, prefix) {
			continue
		}
		for _, c := range contains {
			if !strings.Contains(e.Message, c) {
				continue next
			}
		}
		return &evs[i]
	}
	return nil
}

// podRow returns the pod's `get pods -n NS` row (NAME READY STATUS
// RESTARTS AGE; RESTARTS may be followed by "(5s ago)") and the whole
// output.
func podRow(t *testing.T, d *daemon, ns, name string) ([]string, string) {
	t.Helper()
	out, errOut, code := runCLI(t, d.env, "get", "pods", "-n", ns, "--socket", d.socket)
	if code != 0 {
		t.Fatalf("get pods -n %s: exit %d: %s", ns, code, errOut)
	}
	return tableRows(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE")[name], out
}
