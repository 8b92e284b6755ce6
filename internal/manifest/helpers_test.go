package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const node = "node-1"

// minimalPod is the smallest valid manifest; tests add to it.
const minimalPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
`

// podYAML returns a minimal manifest for the named pod with the given image.
func podYAML(name, image string) string {
	return strings.NewReplacer("name: web", "name: "+name, "nginx:1.27", image).Replace(minimalPod)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// parse runs ParseFile on content as a file named name in a fixed directory.
func parse(t *testing.T, name, content string) ([]Pod, []Problem) {
	t.Helper()
	return ParseFile(filepath.Join("/etc/minikubelet/manifests", name), []byte(content), node)
}

// onlyProblem fails unless there is exactly one problem and no pod.
func onlyProblem(t *testing.T, pods []Pod, problems []Problem) Problem {
	t.Helper()
	if len(pods) != 0 || len(problems) != 1 {
		t.Fatalf("want 0 pods and 1 problem, got %d pods and problems %v", len(pods), problems)
	}
	return problems[0]
}
