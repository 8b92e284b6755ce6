package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

const kubectlPod = `apiVersion: v1
kind: Pod
metadata:
  name: kube-reader
  labels:
    app: reader
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`

// kubectlBin is the operator's own kubectl. A missing one fails the test,
// as a missing tool of the harness does: CI must run these, and
// hack/test.sh builds a kubectl where the machine has none.
func kubectlBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("no kubectl on PATH (hack/test.sh builds one from k8s.io/kubectl where there is none)")
	}
	return p
}

// kubectl runs kubectl with the kubeconfig and returns stdout, stderr and
// the exit code.
func kubectl(t *testing.T, kubeconfig string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin(t), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// writeKubeconfig runs `minikubelet kubeconfig --role ROLE` and saves it.
func (d *daemon) writeKubeconfig(t *testing.T, role string) string {
	t.Helper()
	out := d.mustCLI("kubeconfig", "--role", role)
	path := filepath.Join(t.TempDir(), role+".kubeconfig")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubectlRead runs the real kubectl against the node's TLS listener
// with kubeconfigs from `minikubelet kubeconfig`: discovery, version,
// get pods in every output, get pod, namespaces, describe, the view role
// and the 405 on writes naming the manifest file.
func TestKubectlRead(t *testing.T) {
	kubectlBin(t)
	d := startDaemon(t, "--kube-api-address", "127.0.0.1:0")
	d.writeManifest("reader.yaml", kubectlPod)
	d.waitRunning("default", "kube-reader")
	admin := d.writeKubeconfig(t, "admin")
	view := d.writeKubeconfig(t, "view")

	for _, f := range []string{"ca.crt", "ca.key", "serving.crt", "serving.key"} {
		if _, err := os.Stat(filepath.Join(d.stateDir, "pki", f)); err != nil {
			t.Errorf("pki: %v", err)
		}
	}
	cfg, _ := os.ReadFile(admin)
	if !strings.Contains(string(cfg), "current-context: "+nodeName) {
		t.Errorf("kubeconfig context is not named after the node %s:\n%s", nodeName, cfg)
	}

	must := func(kc string, args ...string) string {
		t.Helper()
		out, errOut, code := kubectl(t, kc, args...)
		if code != 0 {
			t.Fatalf("kubectl %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	// Same table as our own CLI (AGE may tick between the two calls).
	cut := func(s string) string {
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			f := strings.Fields(l)
			b.WriteString(strings.Join(f[:len(f)-1], " ") + "\n")
		}
		return b.String()
	}
	for _, args := range [][]string{{"get", "pods"}, {"get", "pods", "-A"}, {"get", "pods", "-o", "wide"}, {"get", "pod", "kube-reader"}} {
		ours := d.mustCLI(args...)
		theirs := must(view, args...)
		if args[len(args)-1] == "wide" {
			// AGE is in the middle for wide: compare all but column 5.
			if strings.Fields(strings.Split(theirs, "\n")[1])[5] != strings.Fields(strings.Split(ours, "\n")[1])[5] {
				t.Errorf("kubectl %v IP differs:\n%s\nours:\n%s", args, theirs, ours)
			}
			if strings.Join(strings.Fields(strings.Split(theirs, "\n")[0]), " ") != strings.Join(strings.Fields(strings.Split(ours, "\n")[0]), " ") {
				t.Errorf("kubectl %v header differs:\n%s\nours:\n%s", args, theirs, ours)
			}
			continue
		}
		if cut(theirs) != cut(ours) {
			t.Errorf("kubectl %v:\n%s\nminikubelet:\n%s", args, theirs, ours)
		}
	}
	if out := must(view, "get", "pods", "-o", "name"); strings.TrimSpace(out) != "pod/kube-reader" {
		t.Errorf("-o name: %q", out)
	}
	if out := must(view, "get", "pods", "-l", "app=other"); out != "" {
		t.Errorf("-l app=other printed %q", out)
	}
	var pod v1.Pod
	if err := json.Unmarshal([]byte(must(view, "get", "pod", "kube-reader", "-o", "json")), &pod); err != nil || pod.Status.Phase != v1.PodRunning {
		t.Errorf("-o json: %v, phase %q", err, pod.Status.Phase)
	}
	if out := must(view, "get", "pod", "kube-reader", "-o", "yaml"); !strings.Contains(out, "name: kube-reader") {
		t.Errorf("-o yaml:\n%s", out)
	}
	if out := must(view, "get", "namespaces"); !strings.Contains(out, "default") || !strings.Contains(out, "Active") {
		t.Errorf("get namespaces:\n%s", out)
	}
	if out := must(view, "api-resources"); !strings.Contains(out, "pods") || !strings.Contains(out, "po ") {
		t.Errorf("api-resources:\n%s", out)
	}
	if out := must(view, "version"); !strings.Contains(out, "Server Version: v1.37") {
		t.Errorf("version:\n%s", out)
	}
	desc := must(view, "describe", "pod", "kube-reader")
	for _, want := range []string{"Name:", "kube-reader", "Events:", "Started"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe pod lacks %q:\n%s", want, desc)
		}
	}
	_, errOut, code := kubectl(t, view, "get", "pod", "nope")
	if code == 0 || !strings.Contains(errOut, `pods "nope" not found`) {
		t.Errorf("get pod nope: exit %d, %s", code, errOut)
	}

	// Writes: view is forbidden, admin gets 405 naming the file; the pod
	// stays.
	_, errOut, code = kubectl(t, view, "delete", "pod", "kube-reader")
	if code == 0 || !strings.Contains(errOut, "Forbidden") && !strings.Contains(errOut, "forbidden") {
		t.Errorf("view delete: exit %d, %s", code, errOut)
	}
	_, errOut, code = kubectl(t, admin, "delete", "pod", "kube-reader")
	if code == 0 || !strings.Contains(errOut, filepath.Join(d.manifestDir, "reader.yaml")) {
		t.Errorf("admin delete: exit %d, %s (want the manifest file named)", code, errOut)
	}
	if _, err := d.getPod("default", "kube-reader"); err != nil {
		t.Errorf("pod after refused delete: %v", err)
	}

	// No client certificate: no answer at all (the TLS handshake fails).
	var server string
	for _, l := range strings.Split(string(cfg), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "server: "); ok {
			server = s
		}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := c.Get(server + "/api/v1/pods"); err == nil {
		resp.Body.Close()
		t.Errorf("no client certificate: got %s, want the handshake refused", resp.Status)
	}
	// create: forbidden for view, 405 naming the manifest directory for
	// admin (no OpenAPI is served yet, hence --validate=false).
	manifest := filepath.Join(d.manifestDir, "reader.yaml")
	_, errOut, code = kubectl(t, view, "create", "--validate=false", "-f", manifest)
	if code == 0 || !strings.Contains(strings.ToLower(errOut), "forbidden") {
		t.Errorf("view create: exit %d, %s", code, errOut)
	}
	_, errOut, code = kubectl(t, admin, "create", "--validate=false", "-f", manifest)
	if code == 0 || !strings.Contains(errOut, d.manifestDir) {
		t.Errorf("admin create: exit %d, %s (want the manifest directory named)", code, errOut)
	}

	// The same routes on the unix socket, with the socket's roles (root
	// here: admin).
	uc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
		}}}
	req, _ := http.NewRequest(http.MethodGet, "http://node/api/v1/namespaces/default/pods/kube-reader", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := uc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"kind":"Table"`) || !strings.Contains(string(body), "Running") {
		t.Errorf("socket Table: %s %s", resp.Status, body)
	}
	req, _ = http.NewRequest(http.MethodDelete, "http://node/api/v1/namespaces/default/pods/kube-reader", nil)
	resp, err = uc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), manifest) {
		t.Errorf("socket delete: %s %s", resp.Status, body)
	}
}
