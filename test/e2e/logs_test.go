package e2e

import (
	"strings"
	"testing"
	"time"
)

const talkerPod = `apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: talk
    image: localhost/minikubelet/busybox:e2e
    # stdout and stderr reach the log through separate pipes, so lines
    # written at once may land in either order; the pause keeps them apart.
    command: ["sh", "-c", "echo to-stderr >&2; sleep 1; echo line-1; echo line-2; echo line-3; exec sleep 3600"]
  - name: quiet
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`

// TestLogs reads a container's output through the CLI: both streams, one
// container of several with -c, and --tail. (--previous is checked by
// TestKilledContainerRestarts, which makes a previous attempt.)
func TestLogs(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("talker.yaml", talkerPod)
	d.waitRunning("default", "talker")

	var out string
	d.waitFor(20*time.Second, "the whole output in the log", func() (bool, string) {
		var errOut string
		var code int
		out, errOut, code = d.cli("logs", "talker", "-c", "talk")
		if code != 0 {
			return false, "minikubelet logs: " + errOut
		}
		return strings.Contains(out, "line-3"), "log so far: " + out
	})
	for _, want := range []string{"to-stderr\n", "line-1\nline-2\nline-3\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs talker -c talk = %q, want it to contain %q", out, want)
		}
	}
	if got := d.mustCLI("logs", "talker", "-c", "talk", "--tail", "1"); got != "line-3\n" {
		t.Errorf("logs --tail 1 = %q, want %q", got, "line-3\n")
	}
	if got := d.mustCLI("logs", "talker", "-c", "quiet"); got != "" {
		t.Errorf("logs of the quiet container = %q, want nothing", got)
	}
	// An unknown container is an error, not an empty log.
	if out, errOut, code := d.cli("logs", "talker", "-c", "nosuch"); code == 0 {
		t.Errorf("logs -c nosuch: exit 0, want an error; stdout %q stderr %q", out, errOut)
	}
}
