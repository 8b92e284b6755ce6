package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// The role client: the test binary run again as another user, to send one
// request over the socket with that user's peer credentials.
const (
	envRoleClient = "MINIKUBELET_E2E_ROLE_CLIENT" // "1" in the child
	envRoleSocket = "MINIKUBELET_E2E_ROLE_SOCKET"
	envRoleMethod = "MINIKUBELET_E2E_ROLE_METHOD"
	envRolePath   = "MINIKUBELET_E2E_ROLE_PATH"
	envRoleBody   = "MINIKUBELET_E2E_ROLE_BODY" // a file to send
	roleResult    = "ROLE-RESULT "
)

// nobody and nogroup are Debian's unprivileged user and group.
const (
	nobodyUID = 65534
	nogroup   = "nogroup"
	nogroupID = 65534
)

// TestRoleClientHelper is not a test: it is the role client, and does
// nothing unless run as one. It prints the answer's code and body (code
// -1 and the error when there is no answer).
func TestRoleClientHelper(t *testing.T) {
	if os.Getenv(envRoleClient) != "1" {
		t.Skip("the role client of TestSocketRoles")
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", os.Getenv(envRoleSocket))
	}}, Timeout: 30 * time.Second}
	var body io.Reader
	if f := os.Getenv(envRoleBody); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Printf("%s-1 %q\n", roleResult, err.Error())
			return
		}
		body = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(os.Getenv(envRoleMethod), "http://minikubelet"+os.Getenv(envRolePath), body)
	resp, err := c.Do(req)
	if err != nil {
		fmt.Printf("%s-1 %q\n", roleResult, err.Error())
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Printf("%s%d %q\n", roleResult, resp.StatusCode, data)
}

// roleUser runs programs as one user over one socket.
type roleUser struct {
	t          *testing.T
	dir        string // readable by the user: binaries and archives
	socket     string
	uid, gid   uint32
	testBinary string
}

func (u *roleUser) cred(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}}
	cmd.Dir = u.dir
}

// request sends one request as the user; code -1 means no answer.
func (u *roleUser) request(method, path, bodyFile string) (int, string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.testBinary, "-test.run=^TestRoleClientHelper$")
	cmd.Env = append(os.Environ(), envRoleClient+"=1", envRoleSocket+"="+u.socket,
		envRoleMethod+"="+method, envRolePath+"="+path, envRoleBody+"="+bodyFile)
	u.cred(cmd)
	out, err := cmd.Output()
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, roleResult)
		if !ok {
			continue
		}
		codeText, quoted, _ := strings.Cut(rest, " ")
		code, _ := strconv.Atoi(codeText)
		body, _ := strconv.Unquote(quoted)
		return code, body
	}
	u.t.Fatalf("role client %s %s: no result (%v):\n%s", method, path, err, out)
	return 0, ""
}

// cli runs the CLI as the user.
func (u *roleUser) cli(args ...string) (string, int) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(u.dir, "minikubelet"), append(args, "--socket", u.socket)...)
	u.cred(cmd)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		u.t.Fatalf("run minikubelet %v: %v", args, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// copyExecutable copies a program where the unprivileged user can run it.
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestSocketRoles: a member of --socket-group who is not root (nobody in
// nogroup) reads pods, events and logs, and gets a 403 Status for image
// import and removal and for profiles; a user outside the group is
// refused at connect; root can do all of it.
func TestSocketRoles(t *testing.T) {
	t.Parallel()
	requireEnv(t)
	// The socket and the user's files live in a directory the user can
	// reach (the run's own directory is 0700).
	dir, err := os.MkdirTemp("", "mkroles")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "api.sock")
	d := startDaemon(t, "--socket", sock, "--socket-group", nogroup)
	d.writeManifest("roles.yaml", minimalPod("roles"))
	d.waitRunning("default", "roles")

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, self, filepath.Join(dir, "e2e.test"))
	copyExecutable(t, filepath.Join(d.env.bin, "minikubelet"), filepath.Join(dir, "minikubelet"))
	archive := d.writeBusyboxImage("localhost/roles/spare:1", ocibuild.Config{Cmd: []string{"sh"}})
	userArchive := filepath.Join(dir, "spare.tar")
	copyExecutable(t, archive, userArchive) // 0755 is readable too
	d.mustCLI("images", "import", archive)

	view := &roleUser{t: t, dir: dir, socket: sock, uid: nobodyUID, gid: nogroupID, testBinary: filepath.Join(dir, "e2e.test")}
	for _, tt := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/pods", "", 200, `"kind":"PodList"`},
		{"GET", "/pods/default/roles", "", 200, `"name":"roles"`},
		{"GET", "/events?namespace=default&name=roles", "", 200, `"reason":"Started"`},
		{"GET", "/containerLogs/default/roles/main", "", 200, ""},
		{"GET", "/healthz", "", 200, "ok"},
		{"GET", "/images", "", 200, "localhost/roles/spare:1"},
		{"POST", "/images", userArchive, 403, "uid 65534 has role view, which cannot create images"},
		{"DELETE", "/images/" + url.PathEscape("localhost/roles/spare:1"), "", 403, "cannot delete images"},
		{"GET", "/debug/pprof/heap", "", 403, "cannot get profiles"},
		{"GET", "/debug/pprof/profile?seconds=1", "", 403, "cannot get profiles"},
		// The Kubernetes API on the socket keeps the socket's roles.
		{"GET", "/api", "", 200, `"kind":"APIVersions"`},
		{"GET", "/api/v1/namespaces/default/pods/roles", "", 200, `"name":"roles"`},
		{"DELETE", "/api/v1/namespaces/default/pods/roles", "", 403, "which cannot delete /api/v1/namespaces/default/pods/roles"},
		{"POST", "/kubeconfig?role=view", "", 403, "cannot create kubeconfigs"},
	} {
		code, body := view.request(tt.method, tt.path, tt.body)
		if code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("view %s %s: %d %.300s, want %d with %q", tt.method, tt.path, code, body, tt.code, tt.msg)
		}
		if tt.code == 403 && (!strings.Contains(body, `"kind":"Status"`) || !strings.Contains(body, `"reason":"Forbidden"`)) {
			t.Errorf("view %s %s: not a Forbidden Status: %s", tt.method, tt.path, body)
		}
	}
	// The CLI says why.
	if out, code := view.cli("images", "import", userArchive); code == 0 || !strings.Contains(out, "forbidden") {
		t.Errorf("images import as view: exit %d:\n%s", code, out)
	}
	if out, code := view.cli("get", "pods"); code != 0 || !strings.Contains(out, "roles") {
		t.Errorf("get pods as view: exit %d:\n%s", code, out)
	}
	if out, code := view.cli("logs", "roles"); code != 0 {
		t.Errorf("logs as view: exit %d:\n%s", code, out)
	}
	// Nothing changed: the spare image is still there.
	if ls := d.mustCLI("images", "ls"); !strings.Contains(ls, "localhost/roles/spare:1") {
		t.Errorf("spare image gone after a forbidden removal:\n%s", ls)
	}

	// Outside the group: no answer at all.
	stranger := &roleUser{t: t, dir: dir, socket: sock, uid: nobodyUID, gid: nogroupID - 1, testBinary: view.testBinary}
	if code, body := stranger.request("GET", "/pods", ""); code != -1 {
		t.Errorf("a user outside the socket group got %d %.200s", code, body)
	}

	// Root is admin.
	if out := d.mustCLI("images", "rm", "localhost/roles/spare:1"); !strings.Contains(out, "removed") {
		t.Errorf("images rm as root:\n%s", out)
	}
	resp, body := rootGet(t, sock, "/debug/pprof/cmdline")
	if resp != 200 || !strings.Contains(body, "minikubelet") {
		t.Errorf("profiles as root: %d %.200s", resp, body)
	}
}

// rootGet sends a GET as this (root) process.
func rootGet(t *testing.T, socket, path string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}, Timeout: 30 * time.Second}
	resp, err := c.Get("http://minikubelet" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestImportRefusesNameInUse: an archive that would move the name a
// running pod's image has is refused with a message naming the image and
// the pod, and the pod keeps its image, also across a restart of its
// container.
func TestImportRefusesNameInUse(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("keeper.yaml", minimalPod("keeper"))
	p := d.waitRunning("default", "keeper")
	before := p.Status.ContainerStatuses[0].ImageID

	// Another image under the same name.
	archive := d.writeBusyboxImage(busyboxRef, ocibuild.Config{Cmd: []string{"sh"}, Env: []string{"EVIL=1"}})
	_, stderr, code := d.cli("images", "import", archive)
	if code == 0 || !strings.Contains(stderr, "image "+busyboxRef+" is in use by default/keeper") {
		t.Fatalf("import moving a name in use: exit %d, stderr:\n%s", code, stderr)
	}

	// The container's next start still runs the pod's image.
	old := p.Status.ContainerStatuses[0].ContainerID
	pid := d.taskPid(strings.TrimPrefix(old, "containerd://"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p = d.waitPod("default", "keeper", 90*time.Second, func(p *v1.Pod) (bool, string) {
		cs := p.Status.ContainerStatuses
		if len(cs) == 0 || cs[0].ContainerID == old || cs[0].State.Running == nil {
			return false, "waiting for the restart"
		}
		return true, ""
	})
	if got := p.Status.ContainerStatuses[0].ImageID; got != before {
		t.Errorf("after the refused import the container runs %s, want %s", got, before)
	}
}

// TestImportStalledClient: a client that starts an import and stalls holds
// the one import slot only until the read deadline (30 s) cuts it off
// with a 408; meanwhile another import gets a 429 at once, and afterwards
// imports work again (no slot, lock or ingest left behind).
func TestImportStalledClient(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	archive := d.writeBusyboxImage("localhost/stall/spare:1", ocibuild.Config{Cmd: []string{"sh"}})
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /images HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(data))
	if _, err := conn.Write(append([]byte(head), data[:len(data)/2]...)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The stalled import has the slot once the daemon read its head.
	d.waitFor(10*time.Second, "the second import to be refused as busy", func() (bool, string) {
		_, stderr, code := d.cli("images", "import", archive)
		if code == 0 {
			t.Fatalf("an import ran beside the stalled one")
		}
		return strings.Contains(stderr, "another image import is in progress"), stderr
	})
	conn.SetReadDeadline(time.Now().Add(90 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the stalled import: %v", err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || took > 60*time.Second {
		t.Errorf("stalled import: HTTP %d after %v, want 408 after about 30s", resp.StatusCode, took)
	}
	if out := d.mustCLI("images", "import", archive); !strings.Contains(out, "imported localhost/stall/spare:1") {
		t.Errorf("import after the stalled one:\n%s", out)
	}
}
