package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// minimalPod is a valid pod named name.
func minimalPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`, name)
}

// brokenManifests are files no pod can come from, each for its own reason.
var brokenManifests = map[string]string{
	"junk.yaml": "\x00\x01\x02\xff\xfe\x7fELF\x00\x00 {{ ]]:\n\t- : -\x00\x9c",
	"no-kind.yaml": `apiVersion: v1
metadata:
  name: no-kind
spec:
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
`,
	"no-name.yaml": `apiVersion: v1
kind: Pod
metadata:
  labels:
    app: nameless
spec:
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
`,
	"no-containers.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: no-containers
spec:
  containers: []
`,
	"dup-containers.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: dup-containers
spec:
  containers:
  - name: same
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
  - name: same
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`,
	"bad-name.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name!
spec:
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
`,
	"service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
`,
}

// duplicateFile holds a valid pod with the name of good.yaml's; it loses
// because it comes later in file-name order.
const duplicateFile = "zz-duplicate.yaml"

// ignoredFiles hold valid pods but have names the daemon must skip
// (hidden files and editor or backup copies).
var ignoredFiles = map[string]string{
	".hidden.yaml": "ignored-hidden",
	"pod.yaml~":    "ignored-tilde",
	"x.yaml.swp":   "ignored-swp",
}

// TestBrokenManifestsBesideGoodOnes checks that bad files never affect good
// ones: the good pods run, every broken file gets a Warning event naming
// it, ignored names start nothing, and `minikubelet validate` reports the
// same files offline.
func TestBrokenManifestsBesideGoodOnes(t *testing.T) {
	d := startDaemon(t)
	// The broken and ignored files first, so that the good pods running
	// proves the daemon went past them.
	for name, content := range brokenManifests {
		d.writeManifest(name, content)
	}
	for name, pod := range ignoredFiles {
		d.writeManifest(name, minimalPod(pod))
	}
	d.writeManifest(duplicateFile, minimalPod("good-one"))
	d.writeManifest("good.yaml", minimalPod("good-one"))
	d.writeManifest("good2.json", `{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "good-two", "namespace": "json"},
  "spec": {"terminationGracePeriodSeconds": 2, "containers": [
    {"name": "main", "image": "localhost/minikubelet/busybox:e2e", "command": ["sleep", "3600"]}]}}`)

	d.waitRunning("default", "good-one")
	d.waitRunning("json", "good-two")

	t.Run("only the good pods", func(t *testing.T) {
		list, err := d.listPods()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range list.Items {
			names = append(names, p.Namespace+"/"+p.Name)
		}
		sort.Strings(names)
		if want := []string{"default/good-one", "json/good-two"}; !slices.Equal(names, want) {
			t.Errorf("pods %v, want %v", names, want)
		}
	})

	t.Run("warning events name the files", func(t *testing.T) {
		want := []string{duplicateFile}
		for name := range brokenManifests {
			want = append(want, name)
		}
		sort.Strings(want)
		var missing []string
		d.waitFor(30*time.Second, "a Warning event for every broken file", func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			events, err := d.client.Events(ctx, "", "")
			if err != nil {
				return false, err.Error()
			}
			missing = missing[:0]
			for _, file := range want {
				found := false
				for _, ev := range events.Items {
					if ev.Type == "Warning" && strings.Contains(ev.Message, file) {
						found = true
						break
					}
				}
				if !found {
					missing = append(missing, file)
				}
			}
			var msgs []string
			for _, ev := range events.Items {
				msgs = append(msgs, ev.Type+" "+ev.Reason+": "+ev.Message)
			}
			return len(missing) == 0, fmt.Sprintf("no Warning event naming %v; events:\n%s", missing, strings.Join(msgs, "\n"))
		})
	})

	t.Run("validate", func(t *testing.T) {
		var files []string
		for name := range brokenManifests {
			files = append(files, filepath.Join(d.manifestDir, name))
		}
		sort.Strings(files)
		out, errOut, code := runCLI(t, d.env, append([]string{"validate"}, files...)...)
		if code != 1 {
			t.Errorf("validate of broken files: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		all := out + errOut
		for _, f := range files {
			if !strings.Contains(all, filepath.Base(f)) {
				t.Errorf("validate output does not name %s:\n%s", filepath.Base(f), all)
			}
		}
		good := []string{filepath.Join(d.manifestDir, "good.yaml"), filepath.Join(d.manifestDir, "good2.json")}
		out, errOut, code = runCLI(t, d.env, append([]string{"validate"}, good...)...)
		if code != 0 {
			t.Errorf("validate of good files: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})

	if !d.alive() {
		t.Errorf("the daemon exited over broken manifests")
	}
}
