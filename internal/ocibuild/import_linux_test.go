package ocibuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
)

// The integration test proves what the structural test cannot: that the
// containerd the daemon talks to imports these archives, names the image
// after the ref, unpacks the layer and runs it with runc.

const (
	e2eEnv       = "MINIKUBELET_E2E"
	e2eNamespace = "ocibuild-test"
	// e2eSnapshotter is the snapshotter the daemon uses.
	e2eSnapshotter = "overlayfs"
	e2eTimeout     = 60 * time.Second
)

func TestImportIntoContainerd(t *testing.T) {
	if os.Getenv(e2eEnv) != "1" {
		t.Skipf("integration test: set %s=1 to run it (needs root, /usr/bin/containerd, runc and a static busybox)", e2eEnv)
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root to run containerd")
	}
	for _, bin := range []string{"/usr/bin/containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("integration test: %s not found (Debian: apt-get install containerd runc)", bin)
		}
	}
	busybox := staticBusybox(t)

	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	ctx = namespaces.WithNamespace(ctx, e2eNamespace)

	dir := t.TempDir()
	c, err := client.New(startContainerd(t, dir), client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	defer c.Close()

	t.Run("busybox", func(t *testing.T) {
		files, err := BusyboxFiles(busybox)
		if err != nil {
			t.Fatal(err)
		}
		img := importImage(ctx, t, c, "localhost/minikubelet/busybox:e2e", files,
			Config{Cmd: []string{"sh"}, Env: []string{DefaultPathEnv}})
		out, code := runToExit(ctx, t, c, dir, "busybox-echo", img, oci.WithProcessArgs("/bin/busybox", "echo", "hello"))
		if code != 0 || out != "hello\n" {
			t.Errorf("busybox echo hello: exit %d, output %q; want 0 and %q", code, out, "hello\n")
		}
		// The applet symlinks and PATH must work too.
		out, code = runToExit(ctx, t, c, dir, "busybox-sh", img, oci.WithProcessArgs("sh", "-c", "id -u nobody; ls -ld /tmp"))
		if code != 0 || !strings.HasPrefix(out, "65534\ndrwxrwxrwt") {
			t.Errorf("sh -c: exit %d, output %q", code, out)
		}
	})

	t.Run("pause", func(t *testing.T) {
		files, cfg, err := PauseFiles(buildPause(t))
		if err != nil {
			t.Fatal(err)
		}
		img := importImage(ctx, t, c, "localhost/minikubelet/pause:e2e", files, cfg)
		runPause(ctx, t, c, dir, img)
	})
}

// startContainerd runs a private containerd whose root, state and sockets
// all live in dir, so the test neither needs nor disturbs a system one.
// It returns the gRPC socket address.
func startContainerd(t *testing.T, dir string) string {
	t.Helper()
	addr := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
# The CRI plugin would want CNI and its own namespace; nothing here uses it.
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), addr, addr+".ttrpc", filepath.Join(dir, "opt"))
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "containerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/containerd", "--config", configPath, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies, the daemon goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM lets containerd unmount and close its database,
		// which t.TempDir's removal needs.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("containerd log:\n%s", lastLines(string(log), 60))
			}
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := client.New(addr, client.WithTimeout(time.Second))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			var serving bool
			serving, err = c.IsServing(ctx)
			cancel()
			c.Close()
			if err == nil && serving {
				return addr
			}
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("containerd exited: %v\n%s", werr, lastLines(string(log), 40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd not serving at %s: %v", addr, err)
		}
	}
}

// importImage writes an archive, imports it with the client-side Import
// (containerd 1.6 has no Transfer service), checks the name and digest
// containerd gives it and unpacks it for e2eSnapshotter.
func importImage(ctx context.Context, t *testing.T, c *client.Client, ref string, files []File, cfg Config) client.Image {
	t.Helper()
	var buf bytes.Buffer
	want, err := WriteArchive(&buf, ref, files, cfg)
	if err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	imgs, err := c.Import(ctx, &buf)
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name+"@"+img.Target.Digest.String())
	}
	if len(imgs) != 1 || imgs[0].Name != ref || imgs[0].Target.Digest != want {
		t.Fatalf("import created %v, want exactly %s@%s", names, ref, want)
	}
	img, err := c.GetImage(ctx, ref)
	if err != nil {
		t.Fatalf("get image %s after import: %v", ref, err)
	}
	if err := img.Unpack(ctx, e2eSnapshotter); err != nil {
		t.Fatalf("unpack %s: %v", ref, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := c.ImageService().Delete(ctx, ref); err != nil {
			t.Logf("delete image %s: %v", ref, err)
		}
	})
	return img
}

// cleanupContext is a fresh context for deferred cleanups, which must run
// even when the test's own context has expired.
func cleanupContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	return namespaces.WithNamespace(ctx, e2eNamespace), cancel
}

// syncBuffer is a bytes.Buffer safe for cio's copy goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTask creates a container from img and its task, with output to out,
// and registers cleanups that remove both.
func newTask(ctx context.Context, t *testing.T, c *client.Client, dir, id string, img client.Image, out *syncBuffer, opts ...oci.SpecOpts) client.Task {
	t.Helper()
	spec := append([]oci.SpecOpts{oci.WithImageConfig(img)}, opts...)
	container, err := c.NewContainer(ctx, id,
		client.WithSnapshotter(e2eSnapshotter),
		client.WithNewSnapshot(id, img),
		client.WithNewSpec(spec...))
	if err != nil {
		t.Fatalf("create container %s: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := container.Delete(ctx, client.WithSnapshotCleanup); err != nil {
			t.Errorf("delete container %s: %v", id, err)
		}
	})
	fifos := filepath.Join(dir, "fifo")
	task, err := container.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, out, out), cio.WithFIFODir(fifos)))
	if err != nil {
		t.Fatalf("create task %s: %v", id, err)
	}
	// Registered after the container's cleanup, so it runs before it.
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			t.Logf("delete task %s: %v", id, err)
		}
	})
	return task
}

// runToExit runs a container to completion and returns its output (stdout
// and stderr) and exit code.
func runToExit(ctx context.Context, t *testing.T, c *client.Client, dir, id string, img client.Image, opts ...oci.SpecOpts) (string, uint32) {
	t.Helper()
	var out syncBuffer
	task := newTask(ctx, t, c, dir, id, img, &out, opts...)
	// Wait before Start, so the exit cannot be missed.
	statusC, err := task.Wait(ctx)
	if err != nil {
		t.Fatalf("wait task %s: %v", id, err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start task %s: %v", id, err)
	}
	var status client.ExitStatus
	select {
	case status = <-statusC:
	case <-ctx.Done():
		t.Fatalf("task %s did not exit: %v", id, ctx.Err())
	}
	// Delete waits for the output copy to finish, so out is complete.
	if _, err := task.Delete(ctx); err != nil {
		t.Fatalf("delete task %s: %v", id, err)
	}
	code, _, err := status.Result()
	if err != nil {
		t.Fatalf("task %s result: %v", id, err)
	}
	return out.String(), code
}

// runPause checks the sandbox image: it runs as PauseUser, stays up, is
// PID 1 (no warning), and exits 0 on SIGTERM.
func runPause(ctx context.Context, t *testing.T, c *client.Client, dir string, img client.Image) {
	t.Helper()
	var out syncBuffer
	task := newTask(ctx, t, c, dir, "pause", img, &out)
	statusC, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start pause: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case st := <-statusC:
		t.Fatalf("pause exited early with %d: %s", st.ExitCode(), out.String())
	default:
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", task.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t65535\t") || !strings.Contains(string(status), "\nGid:\t65535\t") {
		t.Errorf("pause does not run as %s:\n%s", PauseUser, status)
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil {
		t.Fatalf("kill pause: %v", err)
	}
	select {
	case st := <-statusC:
		if st.ExitCode() != 0 {
			t.Errorf("pause exited %d on SIGTERM, want 0", st.ExitCode())
		}
	case <-ctx.Done():
		t.Fatal("pause ignored SIGTERM")
	}
	if _, err := task.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "" {
		t.Errorf("pause wrote %q; as PID 1 it should be silent", got)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
