package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestRegistryMirrorFromHostsToml points a made-up registry at the test
// registry through a hosts.toml in the --registry-config-dir (containerd's
// layout): the pull goes to the mirror, over plain HTTP. A missing image
// and an unreachable registry give ErrImagePull, then ImagePullBackOff,
// while another pod runs undisturbed.
func TestRegistryMirrorFromHostsToml(t *testing.T) {
	t.Parallel()
	e := requireEnv(t)
	const fake = "registry.minikubelet.invalid"
	if err := e.registry.push(e.busyboxArchive, "mirrored/busybox:1"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, fake), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := fmt.Sprintf("server = \"https://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", fake, e.registry.host)
	if err := os.WriteFile(filepath.Join(dir, fake, "hosts.toml"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--registry-config-dir", dir)
	pod := func(name, image string) string { return imagePod(name, image, v1.PullAlways) }
	d.writeManifest("mirrored.yaml", pod("mirrored", fake+"/mirrored/busybox:1"))
	d.writeManifest("missing.yaml", pod("missing", e.registry.host+"/no/such:1"))
	d.writeManifest("unreachable.yaml", pod("unreachable", "127.0.0.1:1/nothing/here:1"))
	// No tag: imagePullPolicy defaults to Always, and :latest is pulled.
	d.writeManifest("untagged.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: untagged
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s/busybox
    command: ["sleep", "3600"]
`, e.registry.host))
	d.writeManifest("never.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  containers:
  - name: main
    image: localhost/not/here:1
    imagePullPolicy: Never
`)
	d.writeManifest("invalid.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: invalid
spec:
  containers:
  - name: main
    image: "Not/A:Valid:Ref"
`)
	d.waitRunning("default", "mirrored")
	untagged := d.waitRunning("default", "untagged")
	if got := untagged.Spec.Containers[0].ImagePullPolicy; got != v1.PullAlways {
		t.Errorf("untagged image: imagePullPolicy %s, want Always", got)
	}
	for name, reason := range map[string]string{"never": "ErrImageNeverPull", "invalid": "InvalidImageName"} {
		d.waitPod("default", name, 30*time.Second, func(p *v1.Pod) (bool, string) {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return false, summary(p)
			}
			return p.Status.ContainerStatuses[0].State.Waiting.Reason == reason, summary(p)
		})
	}
	for _, name := range []string{"missing", "unreachable"} {
		seen := map[string]bool{}
		d.waitPod("default", name, 60*time.Second, func(p *v1.Pod) (bool, string) {
			if len(p.Status.ContainerStatuses) > 0 {
				if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil {
					seen[w.Reason] = true
				}
			}
			return seen["ErrImagePull"] && seen["ImagePullBackOff"], summary(p)
		})
	}
	// The failing pulls never disturbed the mirrored pod.
	p, err := d.getPod("default", "mirrored")
	if err != nil {
		t.Fatal(err)
	}
	if containerStatus(t, p, "main").RestartCount != 0 || p.Status.Phase != v1.PodRunning {
		t.Fatalf("mirrored pod after the failing pulls: %s", summary(p))
	}
}
