package prober

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/httpget"
)

// maxOutput caps what a probe quotes from exec output or an HTTP body (of
// which httpget reads no more). The Execer caps the exec output itself;
// capping again here keeps a careless Execer from putting megabytes into
// events.
const maxOutput = httpget.BodyLimit

// runExec runs the probe's command in the target container. Exit 0 passes.
// A command that outlives the timeout fails (the Execer killed it, unlike
// the kubelet, which leaves it running: kubernetes#110070).
func runExec(ctx context.Context, a *v1.ExecAction, t Target, ex Execer, timeout time.Duration) (Result, string) {
	if ex == nil {
		return Unknown, "exec probe: no execer"
	}
	if len(a.Command) == 0 {
		return Unknown, "exec probe: empty command"
	}
	out, code, err := ex.Exec(ctx, t.ContainerID, a.Command, timeout)
	switch {
	case err != nil && ctx.Err() != nil:
		// The worker is being stopped; this attempt says nothing about the
		// container.
		return Unknown, fmt.Sprintf("exec probe canceled: %v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return Failure, fmt.Sprintf("command %q timed out after %s", strings.Join(a.Command, " "), timeout)
	case err != nil:
		// The command could not be run (container gone, runtime error): the
		// kubelet throws such attempts away rather than failing the probe.
		return Unknown, fmt.Sprintf("exec probe: %v", err)
	}
	msg := trimOutput(out)
	if code == 0 {
		return Success, ""
	}
	if msg == "" {
		// The kubelet would quote nothing here; the exit code says more.
		msg = fmt.Sprintf("command %q exited with %d", strings.Join(a.Command, " "), code)
	}
	return Failure, msg
}

// trimOutput returns at most maxOutput bytes of out without surrounding
// whitespace, so "cat: can't open ...\n" reads well in an event.
func trimOutput(out []byte) string {
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	return string(bytes.TrimSpace(out))
}
