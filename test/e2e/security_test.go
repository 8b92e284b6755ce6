package e2e

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// The security context tests: users and groups, runAsNonRoot, a read-only
// root, capabilities, privileged, seccomp and no_new_privs, each read
// from inside a real container.

// statusLine prints /proc/self/status lines as name=value, for logs, and
// whether /proc/keys is masked (a mount over it).
const statusLine = `for k in CapEff Seccomp NoNewPrivs; do echo "$k=$(grep "^$k:" /proc/self/status | cut -f2)"; done; ` +
	`echo "keysMasked=$(grep -c ' /proc/keys ' /proc/self/mountinfo)"`

// logValue returns the value of "key=value" in a log, or fails.
func logValue(t *testing.T, logs, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=(.*)$`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("log has no %s=:\n%s", key, logs)
	}
	return m[1]
}

// capEff parses a CapEff hex mask.
func capEff(t *testing.T, hex string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		t.Fatalf("CapEff %q: %v", hex, err)
	}
	return v
}

// securityPod is a run-once pod with the given pod securityContext and
// containers (YAML list items, indented by two spaces).
func securityPod(name, podSC, containers string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  securityContext: %s
  containers:
%s`, name, podSC, containers)
}

// runToCompletion runs a run-once pod to Succeeded and returns it.
func (d *daemon) runToCompletion(name, manifest string) *v1.Pod {
	d.t.Helper()
	d.writeManifest(name+".yaml", manifest)
	return d.waitPhase("default", name, v1.PodSucceeded, 90*time.Second)
}

// TestSecurityRunAsUser checks runAsUser/runAsGroup, supplementalGroups
// and fsGroup as the process's ids, and a container's runAsUser over the
// pod's.
func TestSecurityRunAsUser(t *testing.T) {
	d := startDaemon(t)
	d.runToCompletion("ids", securityPod("ids", "{runAsUser: 65534, runAsGroup: 65534, supplementalGroups: [1001, 1002], fsGroup: 2000}", `  - name: main
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", "echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G)"]
  - name: override
    image: localhost/minikubelet/busybox:e2e
    securityContext: {runAsUser: 1234}
    command: ["sh", "-c", "echo uid=$(id -u); echo gid=$(id -g)"]
`))
	main := d.mustCLI("logs", "ids", "-c", "main")
	if got := logValue(t, main, "uid"); got != "65534" {
		t.Errorf("id -u printed %s, want 65534", got)
	}
	if got := logValue(t, main, "gid"); got != "65534" {
		t.Errorf("id -g printed %s, want 65534", got)
	}
	groups := strings.Fields(logValue(t, main, "groups"))
	for _, g := range []string{"65534", "2000", "1001", "1002"} {
		if !slices.Contains(groups, g) {
			t.Errorf("id -G printed %v, lacking %s", groups, g)
		}
	}
	override := d.mustCLI("logs", "ids", "-c", "override")
	if got := logValue(t, override, "uid"); got != "1234" {
		t.Errorf("container runAsUser: id -u printed %s, want 1234", got)
	}
	if got := logValue(t, override, "gid"); got != "65534" {
		t.Errorf("container inherits the pod's runAsGroup: id -g printed %s, want 65534", got)
	}
}

// TestSecurityRunAsNonRoot checks that runAsNonRoot refuses an image that
// runs as root (the test image has no USER) with the kubelet's reason and
// message, and lets a container with a non-root runAsUser run.
func TestSecurityRunAsNonRoot(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("nonroot.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: nonroot
spec:
  terminationGracePeriodSeconds: 2
  securityContext: {runAsNonRoot: true}
  containers:
  - name: ok
    image: localhost/minikubelet/busybox:e2e
    securityContext: {runAsUser: 1000}
    command: ["sleep", "3600"]
  - name: rootimage
    image: localhost/minikubelet/busybox:e2e
    command: ["sleep", "3600"]
`)
	msg := d.waitWaiting("nonroot", "rootimage", "CreateContainerConfigError")
	if !strings.HasPrefix(msg, "container has runAsNonRoot and image will run as root (pod: \"nonroot_default(") || !strings.HasSuffix(msg, `)", container: rootimage)`) {
		t.Errorf("waiting message %q, want the kubelet's", msg)
	}
	pod := d.waitPod("default", "nonroot", 60*time.Second, func(p *v1.Pod) (bool, string) {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "ok" && cs.State.Running != nil {
				return true, ""
			}
		}
		return false, summary(p)
	})
	d.checkRow(t, "default", "nonroot", "1/2", "CreateContainerConfigError")
	if attempts := d.containerAttempts(string(pod.UID), "rootimage"); len(attempts) != 0 {
		t.Errorf("a refused container was created in containerd: %v", attempts)
	}
}

// TestSecurityImageNamedUser runs an image whose USER is a name: the
// uid and gid come from the image's /etc/passwd and the groups that list
// the user in its /etc/group are added, as with the kubelet on
// containerd. An unknown name and runAsNonRoot with a named user are
// refused with CreateContainerConfigError.
func TestSecurityImageNamedUser(t *testing.T) {
	d := startDaemon(t)
	passwd := ocibuild.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n")}
	group := ocibuild.File{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\napp:x:1000:\nstaff:x:50:app\nwheel:x:10:root\n")}
	cfg := ocibuild.Config{Cmd: []string{"sh"}, Env: []string{ocibuild.DefaultPathEnv}, User: "app"}
	d.mustCLI("images", "import", d.writeBusyboxImage("localhost/e2e/named-user:1", cfg, passwd, group))
	cfg.User = "ghost"
	d.mustCLI("images", "import", d.writeBusyboxImage("localhost/e2e/ghost-user:1", cfg, passwd, group))

	d.runToCompletion("named", securityPod("named", "{}", `  - name: main
    image: localhost/e2e/named-user:1
    imagePullPolicy: Never
    command: ["sh", "-c", "echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G)"]
`))
	logs := d.mustCLI("logs", "named", "-c", "main")
	if uid, gid := logValue(t, logs, "uid"), logValue(t, logs, "gid"); uid != "1000" || gid != "1000" {
		t.Errorf("USER app: uid %s gid %s, want 1000 1000 from the image's /etc/passwd", uid, gid)
	}
	if groups := strings.Fields(logValue(t, logs, "groups")); !slices.Contains(groups, "50") || slices.Contains(groups, "10") {
		t.Errorf("USER app: groups %v, want staff (50), which lists app, and not wheel (10)", groups)
	}

	d.writeManifest("refused.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: refused
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: ghost
    image: localhost/e2e/ghost-user:1
    imagePullPolicy: Never
    command: ["sleep", "3600"]
  - name: nonroot
    image: localhost/e2e/named-user:1
    imagePullPolicy: Never
    securityContext: {runAsNonRoot: true}
    command: ["sleep", "3600"]
`)
	if msg := d.waitWaiting("refused", "ghost", "CreateContainerConfigError"); !strings.Contains(msg, `image user "ghost" is not in the image's /etc/passwd`) {
		t.Errorf("unknown image user: message %q", msg)
	}
	if msg := d.waitWaiting("refused", "nonroot", "CreateContainerConfigError"); !strings.Contains(msg, "image has non-numeric user (app), cannot verify user is non-root") {
		t.Errorf("runAsNonRoot with a named user: message %q", msg)
	}
}

// TestSecurityReadOnlyRootFilesystem checks that a write to / fails while
// a volume mounted in the read-only root stays writable.
func TestSecurityReadOnlyRootFilesystem(t *testing.T) {
	d := startDaemon(t)
	d.runToCompletion("readonly", `apiVersion: v1
kind: Pod
metadata:
  name: readonly
spec:
  restartPolicy: Never
  volumes: [{name: tmp, emptyDir: {}}]
  containers:
  - name: main
    image: localhost/minikubelet/busybox:e2e
    securityContext: {readOnlyRootFilesystem: true}
    command: ["sh", "-c", "if touch /rootfile 2>/dev/null; then echo root=writable; else echo root=refused; fi; touch /tmp/f && echo tmp=writable"]
    volumeMounts: [{name: tmp, mountPath: /tmp}]
`)
	logs := d.mustCLI("logs", "readonly", "-c", "main")
	if logValue(t, logs, "root") != "refused" || logValue(t, logs, "tmp") != "writable" {
		t.Errorf("read-only root:\n%s", logs)
	}
}

// TestSecurityCapabilities checks capabilities from inside: a dropped
// CHOWN makes chown fail and is gone from CapEff, drop ALL plus an add
// leaves exactly that one, and privileged gets every capability the
// daemon has, with no seccomp filter.
func TestSecurityCapabilities(t *testing.T) {
	d := startDaemon(t)
	chownScript := `touch /tmp/x; if chown 1 /tmp/x 2>/dev/null; then echo chown=ok; else echo chown=refused; fi; ` + statusLine
	d.runToCompletion("caps", securityPod("caps", "{}", fmt.Sprintf(`  - name: plain
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %[1]q]
  - name: nochown
    image: localhost/minikubelet/busybox:e2e
    securityContext: {capabilities: {drop: [CHOWN]}}
    command: ["sh", "-c", %[1]q]
  - name: onlynetadmin
    image: localhost/minikubelet/busybox:e2e
    securityContext: {capabilities: {drop: [ALL], add: [CAP_NET_ADMIN]}}
    command: ["sh", "-c", %[2]q]
  - name: privileged
    image: localhost/minikubelet/busybox:e2e
    securityContext: {privileged: true, seccompProfile: {type: RuntimeDefault}}
    command: ["sh", "-c", %[3]q]
`, chownScript, statusLine, statusLine)))
	const capChown, capNetAdmin = 1 << 0, 1 << 12

	plain := d.mustCLI("logs", "caps", "-c", "plain")
	if logValue(t, plain, "chown") != "ok" || capEff(t, logValue(t, plain, "CapEff"))&capChown == 0 {
		t.Errorf("default capabilities should include CHOWN:\n%s", plain)
	}
	if logValue(t, plain, "keysMasked") != "1" {
		t.Errorf("an unprivileged container should have /proc/keys masked:\n%s", plain)
	}
	nochown := d.mustCLI("logs", "caps", "-c", "nochown")
	if logValue(t, nochown, "chown") != "refused" {
		t.Errorf("chown worked without CAP_CHOWN:\n%s", nochown)
	}
	if eff := capEff(t, logValue(t, nochown, "CapEff")); eff&capChown != 0 || eff != capEff(t, logValue(t, plain, "CapEff"))&^capChown {
		t.Errorf("CapEff %x after dropping CHOWN, want the default set without bit 0", eff)
	}
	if eff := capEff(t, logValue(t, d.mustCLI("logs", "caps", "-c", "onlynetadmin"), "CapEff")); eff != capNetAdmin {
		t.Errorf("drop ALL, add NET_ADMIN: CapEff %x, want %x", eff, capNetAdmin)
	}

	priv := d.mustCLI("logs", "caps", "-c", "privileged")
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	ownEff := capEff(t, regexp.MustCompile(`(?m)^CapEff:\s*(\S+)`).FindStringSubmatch(string(own))[1])
	if eff := capEff(t, logValue(t, priv, "CapEff")); eff != ownEff {
		t.Errorf("privileged CapEff %x, want the daemon's own %x", eff, ownEff)
	}
	if got := logValue(t, priv, "Seccomp"); got != "0" {
		t.Errorf("privileged container has seccomp mode %s, want 0 (none, even with RuntimeDefault)", got)
	}
	if got := logValue(t, priv, "keysMasked"); got != "0" {
		t.Errorf("privileged container still has /proc/keys masked:\n%s", priv)
	}
}

// TestSecuritySeccompAndNoNewPrivs checks the kubelet's defaults (no
// seccomp filter, no_new_privs off), RuntimeDefault (mode 2, and the
// profile refuses unshare) and allowPrivilegeEscalation: false.
func TestSecuritySeccompAndNoNewPrivs(t *testing.T) {
	d := startDaemon(t)
	unshare := statusLine + `; if unshare -U true 2>/dev/null; then echo unshare=ok; else echo unshare=refused; fi`
	d.runToCompletion("seccomp", securityPod("seccomp", "{}", fmt.Sprintf(`  - name: plain
    image: localhost/minikubelet/busybox:e2e
    command: ["sh", "-c", %[1]q]
  - name: runtimedefault
    image: localhost/minikubelet/busybox:e2e
    securityContext: {seccompProfile: {type: RuntimeDefault}}
    command: ["sh", "-c", %[1]q]
  - name: noescalation
    image: localhost/minikubelet/busybox:e2e
    securityContext: {allowPrivilegeEscalation: false}
    command: ["sh", "-c", %[1]q]
`, unshare)))
	for c, want := range map[string]map[string]string{
		"plain":          {"Seccomp": "0", "NoNewPrivs": "0"},
		"runtimedefault": {"Seccomp": "2", "NoNewPrivs": "0", "unshare": "refused"},
		"noescalation":   {"Seccomp": "0", "NoNewPrivs": "1"},
	} {
		logs := d.mustCLI("logs", "seccomp", "-c", c)
		for k, v := range want {
			if got := logValue(t, logs, k); got != v {
				t.Errorf("container %s: %s=%s, want %s\n%s", c, k, got, v, logs)
			}
		}
	}
}
