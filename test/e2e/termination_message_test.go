package e2e

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestTerminationMessages: the file at terminationMessagePath (default or
// custom) becomes the terminated state's message; with
// FallbackToLogsOnError a failure without one gets the end of the log.
func TestTerminationMessages(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("msg.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: messages
spec:
  restartPolicy: Never
  containers:
  - name: file
    image: `+busyboxRef+`
    command: ["sh", "-c", "echo 'goodbye from the file' > /dev/termination-log; exit 3"]
  - name: custom
    image: `+busyboxRef+`
    terminationMessagePath: /tmp/why
    command: ["sh", "-c", "echo 'custom path' > /tmp/why"]
  - name: fallback
    image: `+busyboxRef+`
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo first; echo 'it broke'; exit 1"]
`)
	p := d.waitPod("default", "messages", 60*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodFailed, summary(p)
	})
	for name, want := range map[string]string{
		"file":     "goodbye from the file",
		"custom":   "custom path",
		"fallback": "first\nit broke",
	} {
		term := containerStatus(t, p, name).State.Terminated
		if term == nil || strings.TrimSpace(term.Message) != want {
			t.Errorf("%s: terminated %+v, want message %q", name, term, want)
		}
	}
}
