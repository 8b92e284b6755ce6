package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
)

// daemon is one minikubelet daemon under test, with its own manifest
// directory, state directory, socket and containerd namespace, so a test
// sees only its own pods and a failed test cannot disturb the next one.
type daemon struct {
	t   *testing.T
	env *environment
	ns  string // containerd namespace
	dir string
	// manifestDir, stateDir and socket are the daemon's flags.
	manifestDir, stateDir, socket string
	logPath                       string
	client                        *api.Client

	// extraArgs are appended to the daemon's flags (a later flag wins).
	extraArgs []string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit, once exited is closed
}

var daemonSeq atomic.Int32

// startDaemon starts a daemon for t and waits until it serves; it is
// stopped, and whatever it left removed, when t ends.
func startDaemon(t *testing.T, extraArgs ...string) *daemon {
	t.Helper()
	d := newDaemon(t, extraArgs...)
	d.start()
	return d
}

// newDaemon prepares a daemon for t without starting it (see launch and
// start); it is stopped, and whatever it left removed, when t ends.
func newDaemon(t *testing.T, extraArgs ...string) *daemon {
	t.Helper()
	e := requireEnv(t)
	n := daemonSeq.Add(1)
	d := &daemon{
		t:   t,
		env: e,
		ns:  fmt.Sprintf("mkl-e2e-%d", n),
		dir: filepath.Join(e.dir, fmt.Sprintf("d%d", n)),
	}
	d.manifestDir = filepath.Join(d.dir, "manifests")
	d.stateDir = filepath.Join(d.dir, "state")
	d.socket = filepath.Join(d.dir, "api.sock")
	d.logPath = filepath.Join(d.dir, "daemon.log")
	for _, dir := range []string{d.manifestDir, d.stateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.useNamespace(d.ns); err != nil {
		t.Fatal(err)
	}
	// A --socket among the extra flags (the last one wins, as for the
	// daemon) is where the test's clients connect too.
	for i := 0; i+1 < len(extraArgs); i++ {
		if extraArgs[i] == "--socket" {
			d.socket = extraArgs[i+1]
		}
	}
	d.client = api.NewClient(d.socket)
	d.extraArgs = extraArgs
	t.Cleanup(d.cleanup)
	return d
}

// start runs the daemon binary and waits for /healthz.
func (d *daemon) start() {
	d.t.Helper()
	d.launch()
	d.waitHealthy()
}

// waitHealthy waits until /healthz answers 200.
func (d *daemon) waitHealthy() {
	d.t.Helper()
	d.waitFor(30*time.Second, "daemon /healthz", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := d.client.Healthz(ctx); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// launch runs the daemon binary without waiting for it to serve.
func (d *daemon) launch() {
	t := d.t
	t.Helper()
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	d.cmd = exec.Command(filepath.Join(d.env.bin, "minikubelet"), "daemon",
		"--manifest-dir", d.manifestDir,
		"--state-dir", d.stateDir,
		"--socket", d.socket,
		"--containerd-address", d.env.containerd.addr,
		"--containerd-namespace", d.ns,
		"--node-name", nodeName,
		// runc's state away from /run/containerd/runc/<ns>, which a
		// system containerd shares.
		"--runc-root", filepath.Join(d.dir, "runc"),
		"--log-level", "debug",
		"--log-format", "console",
		// No CNI plugins: a daemon's default pod network would put a
		// bridge and iptables rules on the host, and the purge after a
		// test bypasses CNI DEL. The network tests pass their own.
		"--cni-bin-dir", filepath.Join(d.dir, "no-cni-plugins"),
		// No TLS listener unless a test asks: daemons run side by side.
		"--kube-api-address", "",
	)
	d.cmd.Args = append(d.cmd.Args, d.extraArgs...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	// The daemon dies with the test binary; its pods stay (as with the
	// kubelet) and the teardown or hack/test.sh removes them.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	d.exited = make(chan struct{})
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
}

// alive reports whether the daemon process still runs.
func (d *daemon) alive() bool {
	if d.exited == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits (bounded) for the daemon to exit.
func (d *daemon) stop() {
	if !d.alive() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		d.t.Errorf("daemon did not exit within 20s of SIGTERM; killing it")
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// cleanup lets the daemon remove its pods itself (bounded: a pod with the
// default 30 s grace period is not waited for), stops it, prints its log
// when the test failed, and removes whatever it left.
func (d *daemon) cleanup() {
	t := d.t
	if d.alive() {
		entries, _ := os.ReadDir(d.manifestDir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(d.manifestDir, e.Name()))
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && d.alive() {
			if pods, err := d.listPods(); err == nil && len(pods.Items) == 0 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		d.stop()
	}
	if t.Failed() {
		t.Logf("daemon log (%s):\n%s", d.logPath, tailFile(d.logPath, 300))
	}
	if err := d.env.containerd.purge(d.ns); err != nil {
		t.Logf("purge containerd namespace %s: %v", d.ns, err)
	}
	if err := unmountUnder(d.dir); err != nil {
		t.Logf("unmount leftovers: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after timeout with
// cond's last word, or at once when the daemon has exited.
func (d *daemon) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	d.t.Helper()
	waitFor(d.t, timeout, func() (bool, string) {
		if !d.alive() {
			d.t.Fatalf("daemon exited (%v) while waiting for %s\n%s", d.err, what, tailFile(d.logPath, 60))
		}
		ok, msg := cond()
		return ok, what + ": " + msg
	})
}

// waitFor polls cond every 200 ms until it returns true, and fails the
// test with cond's last message when timeout passes first. Every wait in
// these tests is bounded: a broken daemon fails a test, never hangs it.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		ok, msg = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writeManifest writes a manifest file as editors and config tools do:
// to a hidden temporary name (which the daemon ignores), then renamed.
func (d *daemon) writeManifest(name, content string) {
	d.t.Helper()
	writeFileAtomic(d.t, filepath.Join(d.manifestDir, name), []byte(content))
}

func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (d *daemon) removeManifest(name string) {
	d.t.Helper()
	if err := os.Remove(filepath.Join(d.manifestDir, name)); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemon) listPods() (*v1.PodList, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := d.client.ListPods(ctx)
	if err == nil {
		for _, p := range list.Items {
			d.env.rememberPodUID(string(p.UID))
		}
	}
	return list, err
}

// getPod returns a pod from the API; errors.Is(err, api.ErrNotFound) for
// a 404.
func (d *daemon) getPod(ns, name string) (*v1.Pod, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := d.client.GetPod(ctx, ns, name)
	if err == nil {
		d.env.rememberPodUID(string(p.UID))
	}
	return p, err
}

// waitPod waits until the pod exists and cond holds, and returns it.
func (d *daemon) waitPod(ns, name string, timeout time.Duration, cond func(*v1.Pod) (bool, string)) *v1.Pod {
	d.t.Helper()
	var pod *v1.Pod
	d.waitFor(timeout, "pod "+ns+"/"+name, func() (bool, string) {
		p, err := d.getPod(ns, name)
		if err != nil {
			return false, err.Error()
		}
		pod = p
		return cond(p)
	})
	return pod
}

// waitRunning waits until every container of the pod runs and is ready.
func (d *daemon) waitRunning(ns, name string) *v1.Pod {
	d.t.Helper()
	return d.waitPod(ns, name, 90*time.Second, runningAndReady)
}

// waitGone waits until the API answers 404 for the pod.
func (d *daemon) waitGone(ns, name string, timeout time.Duration) {
	d.t.Helper()
	d.waitFor(timeout, "pod "+ns+"/"+name+" to be gone", func() (bool, string) {
		p, err := d.getPod(ns, name)
		switch {
		case errors.Is(err, api.ErrNotFound):
			return true, ""
		case err != nil:
			return false, err.Error()
		}
		return false, "still there: " + summary(p)
	})
}

// cli runs `minikubelet ARGS --socket SOCK` and returns its stdout, stderr
// and exit code.
func (d *daemon) cli(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return runCLI(d.t, d.env, append(args, "--socket", d.socket)...)
}

func runCLI(t *testing.T, e *environment, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "minikubelet"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run minikubelet %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func (d *daemon) mustCLI(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.cli(args...)
	if code != 0 {
		d.t.Fatalf("minikubelet %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// podContainers returns the containerd containers of a pod (sandbox and
// containers, every attempt) by the daemon's pod UID label.
func (d *daemon) podContainers(uid string) []containerObj {
	d.t.Helper()
	list, err := d.env.containerd.containers(d.ns, map[string]string{"io.minikubelet.pod.uid": uid})
	if err != nil {
		d.t.Fatal(err)
	}
	return list
}

// taskPid returns the pid of a container's running task.
func (d *daemon) taskPid(containerID string) int {
	d.t.Helper()
	tasks, err := d.env.containerd.tasks(d.ns)
	if err != nil {
		d.t.Fatal(err)
	}
	pid, ok := tasks[containerID]
	if !ok || pid == 0 {
		d.t.Fatalf("no running task for container %s (tasks: %v)", containerID, tasks)
	}
	return int(pid)
}
