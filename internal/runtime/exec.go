package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"
	"go.uber.org/zap"
)

// MaxExecOutput caps what Exec keeps of a command's output, as the kubelet
// caps probe output.
const MaxExecOutput = 10 << 10

// ErrExecTimeout is returned (wrapped) when an exec'd command outlived its
// timeout; the process was killed and reaped.
var ErrExecTimeout = errors.New("command timed out")

// Exec runs cmd in a running container, with the container's environment,
// user and working directory, and returns its combined output (capped) and
// exit code. A command still running at timeout is killed and reaped
// before Exec returns, so exec probes never pile up.
//
// Exec probes call it every period of every probed container, so it talks
// to the task service directly: four calls (exec, wait, start, delete)
// where the client library's Container, Task and Process objects made ten
// (two containers.Get for the spec, tasks.Get for the task, and a wait,
// kill and status inside Process.Delete), and the process spec comes from
// a cache (execSpecs).
func (c *Containerd) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error) {
	ctx = c.ctx(ctx)
	base, err := c.execSpecs.get(ctx, id)
	if err != nil {
		return nil, -1, err
	}
	pspec := *base
	pspec.Args = cmd
	pspec.Terminal = false
	anySpec, err := typeurl.MarshalAnyToProto(&pspec)
	if err != nil {
		return nil, -1, fmt.Errorf("exec in container %s: %w", id, err)
	}
	execID := "exec-" + randomID()
	out, err := newExecOutput(c.execFIFOs, MaxExecOutput)
	if err != nil {
		return nil, -1, fmt.Errorf("exec in container %s: %w", id, err)
	}
	// Runs last, after the delete below: the FIFO is reused only when the
	// shim is done with it.
	deleted := false
	defer func() { out.release(deleted) }()

	ts := c.client.TaskService()
	if _, err := ts.Exec(ctx, &tasks.ExecProcessRequest{
		ContainerID: id,
		ExecID:      execID,
		Stdout:      out.path(),
		Stderr:      out.path(),
		Spec:        anySpec,
	}); err != nil {
		err = errgrpc.ToNative(err)
		if errdefs.IsNotFound(err) {
			// The task (or container) is gone; its spec will not be needed.
			c.execSpecs.forget(id)
			return nil, -1, wrapNotFound(err, "task of container "+id)
		}
		return nil, -1, fmt.Errorf("exec in container %s: %w", id, err)
	}
	// Deleted with a fresh context: cleanup must happen even when ctx is
	// done. Every path below has seen the process exit, or never start, or
	// tried to kill it first, so a plain delete (no kill, wait and status
	// round trips, as Process.Delete(WithProcessKill) made) suffices.
	defer func() {
		dctx, cancel := context.WithTimeout(c.ctx(context.Background()), 10*time.Second)
		defer cancel()
		_, err := ts.DeleteProcess(dctx, &tasks.DeleteProcessRequest{ContainerID: id, ExecID: execID})
		if err := errgrpc.ToNative(err); err != nil && !errdefs.IsNotFound(err) {
			c.log.Warn("delete exec process", zap.String("container", id), zap.String("exec", execID), zap.Error(err))
			return
		}
		deleted = true
	}()

	// Wait before Start so the exit cannot be missed. The wait outlives
	// ctx so that, when ctx ends, the kill below still sees the exit.
	// (Waiting after Start on this goroutine instead, which the shim would
	// allow for an exec, measured no cheaper.)
	wait := &tasks.WaitRequest{ContainerID: id, ExecID: execID}
	wctx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWait()
	type exit struct {
		code uint32
		err  error
	}
	exitCh := make(chan exit, 1)
	go func() {
		r, err := ts.Wait(wctx, wait)
		if err != nil {
			exitCh <- exit{err: errgrpc.ToNative(err)}
			return
		}
		exitCh <- exit{code: r.ExitStatus}
	}()
	if _, err := ts.Start(ctx, &tasks.StartRequest{ContainerID: id, ExecID: execID}); err != nil {
		return nil, -1, fmt.Errorf("start exec in container %s: %w", id, errgrpc.ToNative(err))
	}

	tctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	defer cancelTimeout()
	var waitErr error
	select {
	case e := <-exitCh:
		if e.err == nil {
			out.exited()
			// Let the last output arrive, but no longer than the probe may take.
			if !out.wait(tctx.Done()) {
				c.log.Debug("exec output still open after exit", zap.String("container", id), zap.String("exec", execID))
			}
			return out.finish(), int(e.code), nil
		}
		// The wait failed, not the command: the process may still run,
		// so it is killed like a timed-out one and nothing is left.
		waitErr = e.err
	case <-tctx.Done():
	}
	// Timed out, canceled or not waited for: kill the process and see it
	// exit before returning, with a fresh context, so that execs never
	// pile up.
	kctx, cancel := context.WithTimeout(c.ctx(context.Background()), 10*time.Second)
	defer cancel()
	_, err = ts.Kill(kctx, &tasks.KillRequest{ContainerID: id, ExecID: execID, Signal: uint32(syscall.SIGKILL)})
	if err := errgrpc.ToNative(err); err != nil && !errdefs.IsNotFound(err) {
		c.log.Warn("kill exec", zap.String("container", id), zap.String("exec", execID), zap.Error(err))
	}
	if waitErr != nil {
		// The first wait is over; a second one sees the kill land.
		_, _ = ts.Wait(kctx, wait)
		return out.finish(), -1, fmt.Errorf("wait for exec in container %s: %w", id, waitErr)
	}
	select {
	case <-exitCh:
	case <-kctx.Done():
	}
	if ctx.Err() != nil {
		return out.finish(), -1, ctx.Err()
	}
	// Also a deadline error, so callers can treat it like any timeout.
	return out.finish(), -1, fmt.Errorf("%w after %s: %w", ErrExecTimeout, timeout, context.DeadlineExceeded)
}

// randomID is 16 random hex digits: exec IDs, exec FIFO names, snapshot
// view keys.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
