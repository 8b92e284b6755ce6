package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/httpget"
	"github.com/minikubelet/minikubelet/internal/spec"
)

// Execer runs a command in a running container (the runtime does).
type Execer interface {
	Exec(ctx context.Context, containerID string, cmd []string, timeout time.Duration) ([]byte, int, error)
}

// HookTarget says where a container's hook runs.
type HookTarget struct {
	Pod         *v1.Pod
	Container   *v1.Container
	ContainerID string
	// PodIP is the default host of httpGet; empty means the request is
	// made inside the pod's network namespace through Dial, to 127.0.0.1
	// (httpget.Route, as for probes).
	PodIP string
	Dial  httpget.Dialer
	// KubeVersion ("1.37") is sent in httpGet's User-Agent
	// (kube-lifecycle/<version>) unless the handler sets one; empty means
	// httpget.DefaultKubeVersion.
	KubeVersion string
}

// RunHook runs a postStart or preStop handler until it finishes or ctx
// ends. It returns the handler's output (for the daemon's debug log only:
// a hook may print secrets) and an error worded for the pod's events.
func RunHook(ctx context.Context, h *v1.LifecycleHandler, t HookTarget, ex Execer, clk clock.Clock) (string, error) {
	switch {
	case h.Exec != nil:
		timeout := time.Hour
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		out, code, err := ex.Exec(ctx, t.ContainerID, h.Exec.Command, timeout)
		if err != nil {
			return string(out), fmt.Errorf("command %q: %w", strings.Join(h.Exec.Command, " "), err)
		}
		if code != 0 {
			// The output is returned, not put in the error: errors become
			// events, and a hook may print secrets.
			return string(out), fmt.Errorf("command %q exited with %d", strings.Join(h.Exec.Command, " "), code)
		}
		return string(out), nil
	case h.HTTPGet != nil:
		return runHTTPHook(ctx, h.HTTPGet, t)
	case h.Sleep != nil:
		select {
		case <-clk.After(time.Duration(h.Sleep.Seconds) * time.Second):
			return "", nil
		case <-ctx.Done():
			return "", fmt.Errorf("sleep %ds: %w", h.Sleep.Seconds, ctx.Err())
		}
	case h.TCPSocket != nil:
		// Deprecated and a no-op in the kubelet; validation rejects it.
		return "", fmt.Errorf("tcpSocket hooks are not supported")
	}
	return "", fmt.Errorf("handler has no action")
}

// runHTTPHook sends the GET (httpget: the request probes send too, with
// User-Agent kube-lifecycle/<version>). As in the kubelet, any answer is a
// success, a redirect to another host included (it is not followed); only
// a failure to get an answer is an error. ctx bounds the whole request
// (dial, TLS handshake, headers and body), so no client Timeout is set: a
// preStop hook's deadline is its grace period (and its end reads as
// context.DeadlineExceeded); a postStart hook, as in the kubelet, has none
// and ends when the pod is killed.
func runHTTPHook(ctx context.Context, a *v1.HTTPGetAction, t HookTarget) (string, error) {
	port, err := spec.ResolvePort(a.Port, t.Container, t.Pod)
	if err != nil {
		return "", err
	}
	g, err := httpget.New(ctx, httpget.Spec{
		Action: a, Port: port, PodIP: t.PodIP, InPod: t.Dial,
		Agent: httpget.AgentLifecycle, KubeVersion: t.KubeVersion,
	})
	if err != nil {
		return "", fmt.Errorf("HTTP GET: %w", err)
	}
	res, err := g.Do()
	if err != nil {
		return "", fmt.Errorf("HTTP GET %s: %w", g.URL(), err)
	}
	out := fmt.Sprintf("HTTP %d: %s", res.StatusCode, res.Body)
	if res.Location != "" {
		out = fmt.Sprintf("HTTP %d (redirect to %s not followed): %s", res.StatusCode, res.Location, res.Body)
	}
	return out, nil
}
