// Package httpget sends the GET of an httpGet action, the one way both
// probes and lifecycle hooks send it, as the kubelet does: where it goes
// (the action's host, else the pod IP, else loopback inside the pod's
// network namespace), the URL, the headers and User-Agent, the redirects
// it follows (same host only: the daemon never carries a request to a
// host the pod names) and how much of the answer it reads.
//
// It imports nothing else from internal/ but version, so the prober and
// internal/lifecycle can both use it.
package httpget

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/version"
)

// BodyLimit caps what is read of an answer's body.
const BodyLimit = 10 << 10

// maxRedirects bounds same-host redirects, as net/http's default does.
const maxRedirects = 10

// The User-Agent products, "kube-<agent>/<major>.<minor>" as the kubelet.
const (
	AgentProbe     = "probe"
	AgentLifecycle = "lifecycle"
)

// DefaultKubeVersion is the "<major>.<minor>" a Spec without KubeVersion
// puts in the User-Agent.
var DefaultKubeVersion = strings.TrimPrefix(version.KubeletVersion, "v")

// Dialer opens a connection; Route picks the daemon's own or the one into
// a pod's network namespace.
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// ErrNoRoute is Route's error when a pod has neither an IP the daemon can
// reach nor a dialer into its network namespace.
var ErrNoRoute = errors.New("no pod IP and no dialer into the pod's network namespace")

// Route says where a connection of a probe or hook to a pod goes, as the
// kubelet does for both: to the action's host if it names one, else to the
// pod IP. A pod without an IP the daemon can route to (no pod network) is
// reached through inPod, inside its network namespace, where the default
// host is 127.0.0.1; so is any host such a pod's action names.
func Route(actionHost, podIP string, inPod Dialer) (host string, dial Dialer, err error) {
	host = actionHost
	if podIP != "" {
		if host == "" {
			host = podIP
		}
		var d net.Dialer
		return host, d.DialContext, nil
	}
	if inPod == nil {
		return "", nil, ErrNoRoute
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, inPod, nil
}

// Spec is one httpGet action made concrete.
type Spec struct {
	Action *v1.HTTPGetAction
	// Port is Action.Port resolved to a number.
	Port int
	// PodIP and InPod go to Route.
	PodIP string
	InPod Dialer
	// Agent is AgentProbe or AgentLifecycle; KubeVersion ("1.37") defaults
	// to DefaultKubeVersion. Both make the User-Agent unless Action sets one.
	Agent, KubeVersion string
	// Timeout bounds the whole exchange, body included; 0 leaves only ctx.
	Timeout time.Duration
}

// Get is a request ready to send; New builds it, Do sends it.
type Get struct {
	req    *http.Request
	client *http.Client
	tr     *http.Transport
}

// New builds the GET. Its errors (an unsupported scheme, no route) mean the
// action could not be tried at all.
func New(ctx context.Context, s Spec) (*Get, error) {
	a := s.Action
	scheme := strings.ToLower(string(a.Scheme))
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("unsupported scheme %q", a.Scheme)
	}
	host, dial, err := Route(a.Host, s.PodIP, s.InPod)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, URL(scheme, host, s.Port, a.Path), nil)
	if err != nil {
		return nil, err
	}
	ver := s.KubeVersion
	if ver == "" {
		ver = DefaultKubeVersion
	}
	setHeaders(req, a.HTTPHeaders, "kube-"+s.Agent+"/"+ver)

	// A fresh Transport per request with keep-alives off: no connection
	// outlives the attempt, and a restarted container is never reached
	// through a stale one. Proxies from the environment are ignored: the
	// request goes straight to the pod.
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: dial,
		// The node cannot verify a pod's serving certificate; the kubelet
		// does not either.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet semantics
		TLSHandshakeTimeout: s.Timeout,
		DisableKeepAlives:   true,
		// Only the first BodyLimit bytes are read, and only to quote them;
		// asking for gzip would just cost CPU.
		DisableCompression: true,
	}
	if a.Protocol != nil && *a.Protocol == v1.HTTPProtocolHTTP2 {
		tr.Protocols = new(http.Protocols)
		if scheme == "http" {
			tr.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
		} else {
			tr.Protocols.SetHTTP2(true)
		}
	}
	return &Get{
		req: req,
		tr:  tr,
		client: &http.Client{
			Transport:     tr,
			Timeout:       s.Timeout,
			CheckRedirect: sameHostRedirects,
		},
	}, nil
}

// URL is the request's URL, for messages.
func (g *Get) URL() string { return g.req.URL.String() }

// Response is what came back.
type Response struct {
	StatusCode int
	// Body is at most BodyLimit bytes of it; BodyErr is why reading it
	// stopped short, if it did.
	Body    []byte
	BodyErr error
	// Location is set when the answer is a redirect that was not followed
	// (to another host, or one without a Location).
	Location string
}

// Do sends the GET. Its error means no answer came (refused, timed out,
// too many redirects), worded as net/http has it: `Get "http://…": dial
// tcp …: connect: connection refused`, which the kubelet quotes too.
func (g *Get) Do() (Response, error) {
	defer g.tr.CloseIdleConnections()
	res, err := g.client.Do(g.req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	// A server streaming an endless body must not hold the request: read
	// at most BodyLimit, then closing the body drops the connection.
	body, err := io.ReadAll(io.LimitReader(res.Body, BodyLimit))
	r := Response{StatusCode: res.StatusCode, Body: body, BodyErr: err}
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		r.Location = res.Header.Get("Location")
	}
	return r, nil
}

// URL joins an action's parts. A path carrying a query ("/healthz?verbose")
// keeps it; one that does not parse is used verbatim; a scheme, host or
// user in the path is dropped.
func URL(scheme, host string, port int, path string) string {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	u.User = nil
	return u.String()
}

// setHeaders applies the action's httpHeaders. A "Host" header sets the
// request's Host (net/http ignores it in the header map); User-Agent and
// Accept get the kubelet's values unless the action sets its own.
func setHeaders(req *http.Request, hs []v1.HTTPHeader, userAgent string) {
	for _, h := range hs {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	}
}

// sameHostRedirects follows a redirect only to the host the request was
// for (any port or path); a redirect elsewhere ends the exchange with the
// redirect response itself. The daemon dials from the host's network
// namespace, so following one would let a pod send it to the node's own
// services or a metadata endpoint.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}
