package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"go.uber.org/zap"
)

// MaxExecOutput caps what Exec keeps of a command's output, as the kubelet
// caps probe output.
const MaxExecOutput = 10 << 10

// ErrExecTimeout is returned (wrapped) when an exec'd command outlived its
// timeout; the process was killed and reaped.
var ErrExecTimeout = errors.New("command timed out")

// cappedBuffer keeps the first max bytes written and drops the rest, but
// always accepts writes so the process never blocks on a full pipe.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// Exec runs cmd in a running container, with the container's environment,
// user and working directory, and returns its combined output (capped) and
// exit code. A command still running at timeout is killed and reaped
// before Exec returns, so exec probes never pile up.
func (c *Containerd) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error) {
	ctx = c.ctx(ctx)
	cntr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, -1, wrapNotFound(err, "container "+id)
	}
	spec, err := cntr.Spec(ctx)
	if err != nil {
		return nil, -1, fmt.Errorf("read spec of container %s: %w", id, err)
	}
	task, err := cntr.Task(ctx, nil)
	if err != nil {
		return nil, -1, wrapNotFound(err, "task of container "+id)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = false
	out := &cappedBuffer{max: MaxExecOutput}
	execID := "exec-" + newExecID()
	proc, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return nil, -1, fmt.Errorf("exec in container %s: %w", id, err)
	}
	// A fresh context: cleanup must happen even when ctx is done.
	defer func() {
		dctx, cancel := context.WithTimeout(c.ctx(context.Background()), 10*time.Second)
		defer cancel()
		if _, err := proc.Delete(dctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			c.log.Warn("delete exec process", zap.String("container", id), zap.String("exec", execID), zap.Error(err))
		}
	}()
	exitCh, err := proc.Wait(ctx)
	if err != nil {
		return nil, -1, fmt.Errorf("wait for exec in container %s: %w", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return nil, -1, fmt.Errorf("start exec in container %s: %w", id, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case st := <-exitCh:
		// Let the copy of the last output finish before reading it.
		proc.IO().Wait()
		code, _, err := st.Result()
		if err != nil {
			return out.Bytes(), -1, fmt.Errorf("exec in container %s: %w", id, err)
		}
		return out.Bytes(), int(code), nil
	case <-timer.C:
	case <-ctx.Done():
	}
	kctx, cancel := context.WithTimeout(c.ctx(context.Background()), 10*time.Second)
	defer cancel()
	if err := proc.Kill(kctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		c.log.Warn("kill timed-out exec", zap.String("container", id), zap.Error(err))
	}
	select {
	case <-exitCh:
	case <-kctx.Done():
	}
	if ctx.Err() != nil {
		return out.Bytes(), -1, ctx.Err()
	}
	// Also a deadline error, so callers can treat it like any timeout.
	return out.Bytes(), -1, fmt.Errorf("%w after %s: %w", ErrExecTimeout, timeout, context.DeadlineExceeded)
}

func newExecID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
