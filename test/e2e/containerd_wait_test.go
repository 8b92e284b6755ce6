package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikubelet/minikubelet/internal/api"
)

// TestDaemonWaitsForContainerd starts the daemon with nothing at its
// containerd address (and no embedded containerd): the socket must answer
// at once, /healthz with 503 and the reason, until containerd appears —
// then the daemon carries on by itself, with no restart.
func TestDaemonWaitsForContainerd(t *testing.T) {
	t.Parallel()
	e := requireEnv(t)
	dir, err := os.MkdirTemp(e.dir, "wait")
	if err != nil {
		t.Fatal(err)
	}
	ns := "mkl-e2e-wait"
	if err := e.useNamespace(ns); err != nil {
		t.Fatal(err)
	}
	// The manifest directory exists: a missing one is a 503 of its own.
	if err := os.Mkdir(filepath.Join(dir, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := filepath.Join(dir, "later.sock")
	sock := filepath.Join(dir, "api.sock")
	logPath := filepath.Join(dir, "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(e.bin, "minikubelet"), "daemon",
		"--manifest-dir", filepath.Join(dir, "manifests"), "--state-dir", filepath.Join(dir, "state"),
		"--socket", sock, "--containerd-address", addr, "--containerd-namespace", ns,
		"--embedded-containerd=false", "--runc-root", filepath.Join(dir, "runc"),
		"--node-name", nodeName, "--log-format", "console")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", tailFile(logPath, 60))
		}
	}()
	c := api.NewClient(sock)
	health := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Healthz(ctx)
	}
	var last error
	waitFor(t, 20*time.Second, func() (bool, string) {
		last = health()
		var se *api.StatusError
		return errors.As(last, &se) && se.Status.Code == 503, fmt.Sprintf("healthz: %v", last)
	})
	if !strings.Contains(last.Error(), addr) {
		t.Errorf("503 does not say which containerd address is missing: %v", last)
	}
	select {
	case err := <-exited:
		t.Fatalf("daemon exited while waiting for containerd: %v", err)
	default:
	}
	// containerd "appears" at the address.
	if err := os.Symlink(e.containerd.addr, addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, func() (bool, string) {
		err := health()
		return err == nil, fmt.Sprintf("healthz: %v", err)
	})
}
