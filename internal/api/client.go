package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Client talks to the API over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the server listening on socket. It does not
// connect until a call is made.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	// No overall timeout: log follows last as long as the container. Calls
	// are bounded by their context.
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// LogOptions are the options of Client.Logs, as `minikubelet logs` takes
// them.
type LogOptions struct {
	// Follow streams new lines until the container exits.
	Follow bool
	// Previous reads the attempt before the current one.
	Previous bool
	// TailLines, when set, starts at the last N lines.
	TailLines *int64
	// Timestamps prefixes every line with its timestamp.
	Timestamps bool
	// LimitBytes, when set, stops after that many bytes.
	LimitBytes *int64
	// SinceTime, when set, leaves out older lines.
	SinceTime *time.Time
}

func (o LogOptions) query() url.Values {
	q := url.Values{}
	setBool := func(name string, v bool) {
		if v {
			q.Set(name, "true")
		}
	}
	setBool("follow", o.Follow)
	setBool("previous", o.Previous)
	setBool("timestamps", o.Timestamps)
	if o.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.UTC().Format(time.RFC3339))
	}
	return q
}

// Healthz returns nil when the daemon answers that it is serving, and the
// reason it gives otherwise.
func (c *Client) Healthz(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// ListPods returns every pod the daemon knows.
func (c *Client) ListPods(ctx context.Context) (*v1.PodList, error) {
	var list v1.PodList
	if err := c.getJSON(ctx, "/pods", nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// GetPod returns one pod. An unknown pod is an error for which
// errors.Is(err, ErrNotFound) holds.
func (c *Client) GetPod(ctx context.Context, namespace, name string) (*v1.Pod, error) {
	var pod v1.Pod
	if err := c.getJSON(ctx, "/pods/"+url.PathEscape(namespace)+"/"+url.PathEscape(name), nil, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}

// Events returns the events involving namespace/name; "" matches any.
func (c *Client) Events(ctx context.Context, namespace, name string) (*v1.EventList, error) {
	q := url.Values{}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	if name != "" {
		q.Set("name", name)
	}
	var list v1.EventList
	if err := c.getJSON(ctx, "/events", q, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// Logs copies a container's log to w. With Follow it returns when the
// container exits, ctx is done or the daemon stops.
func (c *Client) Logs(ctx context.Context, namespace, pod, container string, o LogOptions, w io.Writer) error {
	path := "/containerLogs/" + url.PathEscape(namespace) + "/" + url.PathEscape(pod) + "/" + url.PathEscape(container)
	resp, err := c.do(ctx, http.MethodGet, path, o.query(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("read log of container %q in pod %q: %w", container, pod, err)
	}
	return nil
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response of GET %s: %w", path, err)
	}
	return nil
}

// do sends a request and returns its response when the status is 2xx; any
// other answer becomes a *StatusError. path is already escaped (names go
// through url.PathEscape), q may be nil.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	target := "http://minikubelet" + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request for %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readStatus(resp)
	}
	return resp, nil
}

// connError says plainly when the daemon cannot be reached, keeping the
// system's words in parentheses.
func (c *Client) connError(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("cannot connect to minikubelet at %s: permission denied; run as root or as a member of the socket's group (%w)", c.socket, opErr)
		}
		return fmt.Errorf("cannot connect to minikubelet at %s: is the daemon running? (%w)", c.socket, opErr)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("minikubelet at %s: %s %s: %w", c.socket, urlErr.Op, urlErr.URL, urlErr.Err)
	}
	return fmt.Errorf("minikubelet at %s: %w", c.socket, err)
}

// readStatus turns an error response into a *StatusError, also when the
// body is not a Status.
func readStatus(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st metav1.Status
	if json.Unmarshal(body, &st) != nil || st.Kind != "Status" {
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = resp.Status
		}
		st = newStatus(resp.StatusCode, fmt.Sprintf("unexpected answer %s: %s", resp.Status, msg))
	}
	if st.Code == 0 {
		st.Code = int32(resp.StatusCode)
	}
	return &StatusError{Status: st}
}

// Kubeconfig asks the daemon (admin only) for a kubeconfig with a new
// client certificate for role; server "" names the daemon's listener.
func (c *Client) Kubeconfig(ctx context.Context, role, server string) ([]byte, error) {
	q := url.Values{"role": {role}}
	if server != "" {
		q.Set("server", server)
	}
	resp, err := c.do(ctx, http.MethodPost, "/kubeconfig", q, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	return out, nil
}
