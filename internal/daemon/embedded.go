package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// answers reports whether something accepts connections on a unix socket.
func answers(address string) bool {
	c, err := net.DialTimeout("unix", address, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// hasContainerd reports whether a containerd binary is on PATH.
func hasContainerd() bool {
	_, err := exec.LookPath("containerd")
	return err == nil
}

// embeddedConfig is the embedded containerd's configuration: everything
// under the state dir, and no CRI plugin (this daemon is the only client).
const embeddedConfig = `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`

// embedded supervises a containerd child process: restarted when it dies,
// stopped when the daemon stops. Containers survive either, because their
// shims do not belong to containerd.
type embedded struct {
	dir, address string
	log          *zap.Logger

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	stopped bool
}

// embeddedAddress is the socket of the embedded containerd.
func embeddedAddress(stateDir string) string {
	return filepath.Join(stateDir, "containerd", "containerd.sock")
}

// startEmbedded starts containerd with root, state and socket under
// <stateDir>/containerd and waits until it answers.
func startEmbedded(ctx context.Context, stateDir string, log *zap.Logger) (*embedded, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("no containerd answers and none is on PATH to start: %w", err)
	}
	dir := filepath.Join(stateDir, "containerd")
	e := &embedded{dir: dir, address: embeddedAddress(stateDir), log: log.Named("containerd")}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(embeddedConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		e.address, e.address+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if answers(e.address) {
		// Left running by a previous daemon that was killed: reuse it.
		e.log.Info("reusing running embedded containerd", zap.String("address", e.address))
		return e, nil
	}
	if err := e.start(bin); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for !answers(e.address) {
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("embedded containerd did not answer at %s within 30s (log: %s)", e.address, filepath.Join(dir, "containerd.log"))
		}
		select {
		case <-ctx.Done():
			e.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	go e.supervise(ctx, bin)
	return e, nil
}

func (e *embedded) start(bin string) error {
	logf, err := os.OpenFile(filepath.Join(e.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--config", filepath.Join(e.dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C for the daemon must not reach it
	// before the daemon has let go.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start embedded containerd: %w", err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() {
		if err := cmd.Wait(); err != nil {
			e.log.Debug("embedded containerd exit", zap.Error(err))
		}
		close(exited)
	}()
	e.mu.Lock()
	e.cmd, e.exited = cmd, exited
	e.mu.Unlock()
	e.log.Info("started embedded containerd", zap.Int("pid", cmd.Process.Pid), zap.String("address", e.address),
		zap.String("log", filepath.Join(e.dir, "containerd.log")))
	return nil
}

// supervise restarts containerd when it exits while the daemon runs.
func (e *embedded) supervise(ctx context.Context, bin string) {
	for {
		e.mu.Lock()
		exited := e.exited
		e.mu.Unlock()
		if exited == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		e.mu.Lock()
		stopped := e.stopped
		e.mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		e.log.Error("embedded containerd exited; restarting")
		time.Sleep(time.Second)
		if err := e.start(bin); err != nil {
			e.log.Error("restart embedded containerd", zap.Error(err))
			return
		}
	}
}

// stop ends containerd gracefully.
func (e *embedded) stop() {
	e.mu.Lock()
	cmd, exited := e.cmd, e.exited
	e.stopped = true
	e.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	e.log.Info("stopped embedded containerd")
}
