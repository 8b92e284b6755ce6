package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// seedNginx is the nginx.yml of the seed article, field for field, with
// two stand-ins the machine needs: the image comes from the local
// registry (it has no network) and busybox httpd plays nginx. The image
// is pulled because of imagePullPolicy: Always.
const seedNginx = `apiVersion: v1
kind: Pod
metadata:
  name: nginx
  namespace: web-testing
  labels:
    app: nginx
    role: frontend
  annotations:
    app: nginx
spec:
  restartPolicy: Always
  os:
    name: linux
  containers:
  - name: nginx
    image: %s/busybox:latest
    imagePullPolicy: Always
    command:
    - httpd
    - -f
    - -p
    - "80"
    - -h
    - /var/www
    resources:
      limits:
        cpu: 500m
        memory: 512Mi
      requests:
        cpu: 100m
        memory: 128Mi
`

func TestSeedNginxExample(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("nginx.yml", fmt.Sprintf(seedNginx, d.env.registry.host))
	pod := d.waitRunning("web-testing", "nginx")

	t.Run("status", func(t *testing.T) {
		for _, c := range []v1.PodConditionType{v1.PodScheduled, "PodReadyToStartContainers", v1.PodInitialized, v1.ContainersReady, v1.PodReady} {
			if got := conditionStatus(pod, c); got != v1.ConditionTrue {
				t.Errorf("condition %s = %q, want True (conditions: %+v)", c, got, pod.Status.Conditions)
			}
		}
		if got := pod.Labels; got["app"] != "nginx" || got["role"] != "frontend" {
			t.Errorf("labels = %v, want app=nginx role=frontend", got)
		}
		if got := pod.Annotations["app"]; got != "nginx" {
			t.Errorf("annotation app = %q, want nginx (annotations %v)", got, pod.Annotations)
		}
		cs := containerStatus(t, pod, "nginx")
		if cs.RestartCount != 0 || !cs.Ready || cs.State.Running == nil {
			t.Errorf("container status: %s", summary(pod))
		}
		if want := d.env.registry.host + "/busybox:latest"; cs.Image != want {
			t.Errorf("container image = %q, want %q", cs.Image, want)
		}
		if pod.Spec.NodeName != nodeName {
			t.Errorf("spec.nodeName = %q, want %q (the daemon's --node-name)", pod.Spec.NodeName, nodeName)
		}
	})

	t.Run("get pods", func(t *testing.T) {
		out := d.mustCLI("get", "pods", "-n", "web-testing")
		rows := tableRows(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		row := rows["nginx"]
		if len(row) != 5 || row[1] != "1/1" || row[2] != "Running" || row[3] != "0" {
			t.Errorf("get pods -n web-testing row %q, want nginx 1/1 Running 0 <age>; output:\n%s", row, out)
		}
		out = d.mustCLI("get", "pods", "-n", "web-testing", "-o", "wide")
		rows = tableRows(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE")
		if row := rows["nginx"]; len(row) != 7 || row[6] != nodeName {
			t.Errorf("get pods -o wide row %q, want NODE %s; output:\n%s", row, nodeName, out)
		}
		out = d.mustCLI("get", "pods", "-A")
		rows = tableRows(t, out, "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		if row := rows["web-testing"]; len(row) < 4 || row[1] != "nginx" || row[3] != "Running" {
			t.Errorf("get pods -A: row %q; output:\n%s", row, out)
		}
		out = d.mustCLI("get", "pods", "-n", "web-testing", "-o", "name")
		if strings.TrimSpace(out) != "pod/nginx" {
			t.Errorf("get pods -o name = %q, want pod/nginx", out)
		}
	})

	t.Run("describe", func(t *testing.T) {
		out := d.mustCLI("describe", "pod", "nginx", "-n", "web-testing")
		for _, want := range []string{"web-testing", "Conditions:", "Ready", "app=nginx", "role=frontend", "512Mi"} {
			if !strings.Contains(out, want) {
				t.Errorf("describe pod output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("cgroup limits", func(t *testing.T) {
		id := containerID(t, containerStatus(t, pod, "nginx"))
		// cgroup v1 (this project's CI machine): one hierarchy per
		// controller, cgroupfs paths laid out by QoS class as the kubelet's
		// kubepods: a Burstable pod is /minikubelet/burstable/pod<uid>.
		if pod.Status.QOSClass != "Burstable" {
			t.Errorf("qosClass %q, want Burstable", pod.Status.QOSClass)
		}
		rel := filepath.Join("minikubelet", "burstable", "pod"+string(pod.UID), id)
		checks := []struct{ file, want string }{
			{"memory/" + rel + "/memory.limit_in_bytes", "536870912"}, // 512Mi
			{"cpu/" + rel + "/cpu.cfs_quota_us", "50000"},             // 500m of a 100ms period
			{"cpu/" + rel + "/cpu.shares", "102"},                     // 100m request, as the kubelet computes it
		}
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			// cgroup v2: one hierarchy.
			checks = []struct{ file, want string }{
				{rel + "/memory.max", "536870912"},
				{rel + "/cpu.max", "50000 100000"},
			}
		}
		for _, c := range checks {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", c.file))
			if err != nil {
				t.Errorf("read cgroup file: %v", err)
				continue
			}
			if got := strings.TrimSpace(string(b)); got != c.want {
				t.Errorf("%s = %s, want %s", c.file, got, c.want)
			}
		}
	})
}
