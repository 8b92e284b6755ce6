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
	"sync"
	"testing"
	"time"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// Environment variables the harness reads. hack/test.sh sets all three.
const (
	// envE2E must be "1" for anything here to run.
	envE2E = "MINIKUBELET_E2E"
	// envDir, when set, is the (short) directory everything lives under;
	// the script that made it removes it after a crash.
	envDir = "MINIKUBELET_E2E_DIR"
	// envBin, when set, holds prebuilt minikubelet and minikubelet-pause.
	envBin = "MINIKUBELET_E2E_BIN"
)

const (
	// busyboxRef is the image every test pod runs, imported with ctr.
	busyboxRef = "localhost/minikubelet/busybox:e2e"
	// nodeName is the daemons' --node-name, shown by `get pods -o wide`.
	nodeName = "e2e-node"
	// staticBusybox is what busybox-static installs.
	staticBusybox = "/bin/busybox"
)

// The tools the harness runs; missing ones fail the run (not skip it): CI
// must run these tests, and hack/test.sh installs them.
var requiredTools = []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "skopeo", "docker-registry", "gcc"}

var (
	// skipReason is set when the tests cannot run here at all.
	skipReason string
	// setupErr is set when setting up the environment failed; every test
	// then fails with it.
	setupErr error
	// env is the shared environment, set when setupErr is nil.
	env *environment
)

// environment is what TestMain starts once for all tests.
type environment struct {
	// dir holds everything of this run; teardown removes it.
	dir      string
	repoRoot string
	bin      string // holds minikubelet and minikubelet-pause
	// busyboxArchive is an OCI archive of busyboxRef.
	busyboxArchive string

	containerd *containerd
	registry   *registry

	mu sync.Mutex
	// namespaces used by the tests, purged at the end.
	namespaces []string
	// podUIDs seen by any test: their cgroups are removed at the end if a
	// daemon failed to.
	podUIDs map[string]bool
}

func TestMain(m *testing.M) {
	skipReason = whySkip()
	if skipReason != "" {
		fmt.Fprintf(os.Stderr, "e2e: skipping all tests: %s\n", skipReason)
		os.Exit(m.Run())
	}
	env, setupErr = setup()
	if setupErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", setupErr)
	}
	code := m.Run()
	if env != nil {
		env.teardown()
	}
	os.Exit(code)
}

func whySkip() string {
	if os.Getenv(envE2E) != "1" {
		return fmt.Sprintf("end-to-end tests run only with %s=1 (as root, with containerd, runc, skopeo and docker-registry; `sudo hack/test.sh` sets everything up)", envE2E)
	}
	if os.Geteuid() != 0 {
		return "end-to-end tests need root (they run containerd and containers)"
	}
	return ""
}

// requireEnv returns the environment or ends the test: skipped when the
// tests cannot run here, failed when the setup broke.
func requireEnv(t *testing.T) *environment {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != nil {
		t.Fatalf("e2e environment setup failed: %v", setupErr)
	}
	return env
}

func setup() (e *environment, err error) {
	for _, tool := range requiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found on PATH (Debian: apt-get install containerd runc skopeo docker-registry gcc; or run hack/test.sh)", tool)
		}
	}
	if _, err := os.Stat(staticBusybox); err != nil {
		return nil, fmt.Errorf("static busybox: %w (Debian: apt-get install busybox-static)", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("repository root not found from %s: %w", root, err)
	}
	e = &environment{repoRoot: root, podUIDs: map[string]bool{}}
	if d := os.Getenv(envDir); d != "" {
		e.dir = d
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	} else {
		// Not t.TempDir: its long names would push unix socket paths past
		// their 108-byte limit.
		if e.dir, err = os.MkdirTemp("/tmp", "mkle2e."); err != nil {
			return nil, err
		}
	}
	// From here on teardown undoes whatever was started.
	defer func() {
		if err != nil {
			e.teardown()
			e = nil
		}
	}()

	if e.bin, err = e.binaries(); err != nil {
		return e, err
	}
	e.busyboxArchive = filepath.Join(e.dir, "busybox-e2e.tar")
	grpcHealth, err := e.buildGRPCHealth()
	if err != nil {
		return e, err
	}
	if err := writeBusyboxArchive(e.busyboxArchive, grpcHealth); err != nil {
		return e, fmt.Errorf("build busybox image: %w", err)
	}
	if e.containerd, err = startContainerd(filepath.Join(e.dir, "containerd")); err != nil {
		return e, err
	}
	if e.registry, err = startRegistry(filepath.Join(e.dir, "registry")); err != nil {
		return e, err
	}
	if err := e.registry.push(e.busyboxArchive, "busybox:latest"); err != nil {
		return e, err
	}
	return e, nil
}

// binaries returns the directory with minikubelet and minikubelet-pause:
// the prebuilt one in $MINIKUBELET_E2E_BIN, or one built here so that
// `go test ./test/e2e/` alone works too.
func (e *environment) binaries() (string, error) {
	if d := os.Getenv(envBin); d != "" {
		for _, f := range []string{"minikubelet", "minikubelet-pause"} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				return "", fmt.Errorf("%s=%s: %w (run make build)", envBin, d, err)
			}
		}
		return d, nil
	}
	bin := filepath.Join(e.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "minikubelet"),
		"-ldflags", "-X github.com/minikubelet/minikubelet/internal/version.Version=e2e", "./cmd/minikubelet")
	build.Dir = e.repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/minikubelet: %w\n%s", err, out)
	}
	pause := exec.CommandContext(ctx, "gcc", "-Os", "-static", "-s", "-o", filepath.Join(bin, "minikubelet-pause"), "build/pause/pause.c")
	pause.Dir = e.repoRoot
	if out, err := pause.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pause: %w\n%s", err, out)
	}
	return bin, nil
}

// buildGRPCHealth builds the gRPC health server the probe tests run.
func (e *environment) buildGRPCHealth() (string, error) {
	out := filepath.Join(e.dir, "grpc-health")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./test/images/grpc-health")
	build.Dir = e.repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./test/images/grpc-health: %w\n%s", err, b)
	}
	return out, nil
}

// writeBusyboxArchive builds the test image with the project's own image
// builder (what hack/mkimage runs): busybox, plus /bin/grpc-health.
func writeBusyboxArchive(path, grpcHealth string) error {
	files, err := ocibuild.BusyboxFiles(staticBusybox)
	if err != nil {
		return err
	}
	gh, err := os.ReadFile(grpcHealth)
	if err != nil {
		return err
	}
	files = append(files, ocibuild.File{Path: "/bin/grpc-health", Mode: 0o755, Data: gh})
	var buf bytes.Buffer
	if _, err := ocibuild.WriteArchive(&buf, busyboxRef, files,
		ocibuild.Config{Cmd: []string{"sh"}, Env: []string{ocibuild.DefaultPathEnv}}); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// useNamespace records a containerd namespace for the final purge and
// imports the busybox image into it.
func (e *environment) useNamespace(ns string) error {
	e.mu.Lock()
	e.namespaces = append(e.namespaces, ns)
	e.mu.Unlock()
	if _, err := e.containerd.ctr(ns, "images", "import", e.busyboxArchive); err != nil {
		return fmt.Errorf("import %s into namespace %s: %w", busyboxRef, ns, err)
	}
	out, err := e.containerd.ctr(ns, "images", "ls", "-q")
	if err != nil {
		return err
	}
	if !strings.Contains(out, busyboxRef) {
		return fmt.Errorf("after import, namespace %s has images %q, not %s", ns, out, busyboxRef)
	}
	return nil
}

func (e *environment) rememberPodUID(uid string) {
	if uid == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.podUIDs[uid] {
		return
	}
	e.podUIDs[uid] = true
	// Also on disk, for hack/test.sh's cleanup after a crashed test binary.
	if f, err := os.OpenFile(filepath.Join(e.dir, podUIDsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintln(f, uid)
		f.Close()
	}
}

// podUIDsFile, in the run's directory, lists every pod UID seen.
const podUIDsFile = "pod-uids"

// teardown stops everything setup and the tests started, and removes what
// a failed daemon left: tasks, containers, shims, mounts, cgroups, files.
// Each step goes on when another fails.
func (e *environment) teardown() {
	if e.containerd != nil {
		e.mu.Lock()
		nss := append([]string(nil), e.namespaces...)
		e.mu.Unlock()
		for _, ns := range nss {
			if err := e.containerd.purge(ns); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: purge namespace %s: %v\n", ns, err)
			}
		}
		e.containerd.stop()
	}
	if e.registry != nil {
		e.registry.stop()
	}
	e.mu.Lock()
	for uid := range e.podUIDs {
		removePodCgroups(uid)
	}
	e.mu.Unlock()
	if err := unmountUnder(e.dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	}
	if err := os.RemoveAll(e.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "e2e: remove %s: %v\n", e.dir, err)
	}
}
