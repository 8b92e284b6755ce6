package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// sharedPod has a web server and a client of it. Test pods use the busybox
// image imported into each test's namespace: its explicit tag means
// IfNotPresent, so no registry is involved. The short grace period is
// because a shell or sleep as PID 1 ignores SIGTERM.
const sharedPod = `apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
  - name: client
    image: localhost/minikubelet/busybox:e2e
    # The web container may not listen yet: retry, bounded.
    command:
    - sh
    - -c
    - |
      echo hostname=$(hostname)
      i=0
      until out=$(wget -qO- http://127.0.0.1:8080/); do
        i=$((i+1)); [ $i -lt 30 ] || { echo gave-up; break; }
        sleep 1
      done
      echo got=$out
      exec sleep 3600
`

// TestContainersSharePodNamespaces checks what the pause container is
// for: the containers of a pod share its network, IPC and UTS namespaces
// (not the host's), talk over localhost, and see the pod name as host name.
func TestContainersSharePodNamespaces(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("shared.yaml", sharedPod)
	pod := d.waitRunning("default", "shared")

	web := d.taskPid(containerID(t, containerStatus(t, pod, "web")))
	client := d.taskPid(containerID(t, containerStatus(t, pod, "client")))
	var sandboxPid int
	for _, c := range d.podContainers(string(pod.UID)) {
		if c.Labels["io.minikubelet.kind"] == "sandbox" {
			sandboxPid = d.taskPid(c.ID)
		}
	}
	if sandboxPid == 0 {
		t.Fatalf("no sandbox container with a task for pod %s", pod.UID)
	}
	for _, kind := range []string{"net", "ipc", "uts"} {
		host := nsInode(t, os.Getpid(), kind)
		w, c, s := nsInode(t, web, kind), nsInode(t, client, kind), nsInode(t, sandboxPid, kind)
		if w != c || w != s {
			t.Errorf("%s namespaces differ: web %s, client %s, sandbox %s", kind, w, c, s)
		}
		if w == host {
			t.Errorf("%s namespace of the pod is the host's (%s)", kind, host)
		}
	}
	// Each container has its own PID namespace unless
	// shareProcessNamespace is set, as in Kubernetes.
	if nsInode(t, web, "pid") == nsInode(t, client, "pid") {
		t.Errorf("web and client share a pid namespace without shareProcessNamespace")
	}

	var logs string
	d.waitFor(45*time.Second, "client to fetch the web page", func() (bool, string) {
		out, errOut, code := d.cli("logs", "shared", "-c", "client")
		logs = out
		if code != 0 {
			return false, "minikubelet logs: " + errOut
		}
		return strings.Contains(out, "got="), "client log so far: " + out
	})
	if !strings.Contains(logs, "got=hello-from-web") {
		t.Errorf("client did not get the web container's page over 127.0.0.1:8080; log:\n%s", logs)
	}
	if !strings.Contains(logs, "hostname=shared\n") {
		t.Errorf("hostname in the container is not the pod name; log:\n%s", logs)
	}
}
