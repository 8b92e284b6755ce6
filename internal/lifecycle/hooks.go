package lifecycle

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

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
	// made inside the pod's network namespace through Dial, to 127.0.0.1.
	PodIP string
	Dial  func(ctx context.Context, network, address string) (net.Conn, error)
	// UserAgent is sent by httpGet hooks unless the handler sets one.
	UserAgent string
}

// hookBodyLimit caps what is read of an httpGet hook's answer.
const hookBodyLimit = 10 << 10

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

// runHTTPHook sends the GET. As in the kubelet, any answer is a success;
// only a failure to get one is an error.
func runHTTPHook(ctx context.Context, g *v1.HTTPGetAction, t HookTarget) (string, error) {
	port, err := spec.ResolvePort(g.Port, t.Container, t.Pod)
	if err != nil {
		return "", err
	}
	// Without a pod IP every connection is made inside the pod's network
	// namespace (as the prober does), where 127.0.0.1 is the pod.
	host := g.Host
	if host == "" {
		host = t.PodIP
	}
	if host == "" {
		host = "127.0.0.1"
	}
	dial := (&net.Dialer{}).DialContext
	if t.PodIP == "" && t.Dial != nil {
		dial = t.Dial
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	u, err = u.Parse(path)
	if err != nil {
		return "", fmt.Errorf("bad path %q: %w", g.Path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", t.UserAgent)
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:       dial,
			DisableKeepAlives: true,
			// Hooks talk to the pod's own server; its certificate is not
			// one the node could verify.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("HTTP GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, hookBodyLimit))
	return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body), nil
}
