package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestTerminationMessages: the file at terminationMessagePath (default or
// custom) becomes the terminated state's message, also from a container
// that runs as a non-root user; with FallbackToLogsOnError a failure
// without one gets the end of the log. On the host, the pod's directories
// are the daemon's alone: another user can neither list them nor forge a
// message.
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
  - name: nonroot
    image: `+busyboxRef+`
    securityContext: {runAsUser: 65534, runAsGroup: 65534}
    command: ["sh", "-c", "echo \"written by $(id -u)\" > /dev/termination-log"]
`)
	p := d.waitPod("default", "messages", 60*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodFailed, summary(p)
	})
	for name, want := range map[string]string{
		"file":     "goodbye from the file",
		"custom":   "custom path",
		"fallback": "first\nit broke",
		"nonroot":  "written by 65534",
	} {
		term := containerStatus(t, p, name).State.Terminated
		if term == nil || strings.TrimSpace(term.Message) != want {
			t.Errorf("%s: terminated %+v, want message %q", name, term, want)
		}
	}
	checkPodDirsPrivate(t, d, string(p.UID))
}

// checkPodDirsPrivate: pods/, pods/<uid> and its termination/ are 0700,
// so no other host user can list the pods or reach a termination message
// (the files themselves are 0666, for the container's user).
func checkPodDirsPrivate(t *testing.T, d *daemon, uid string) {
	t.Helper()
	pods := filepath.Join(d.stateDir, "pods")
	termDir := filepath.Join(pods, uid, "termination")
	for _, dir := range []string{pods, filepath.Join(pods, uid), termDir} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", dir, st.Mode().Perm())
		}
	}
	if files, _ := filepath.Glob(filepath.Join(termDir, "*")); len(files) == 0 {
		t.Errorf("no termination-message files in %s", termDir)
	}
}
