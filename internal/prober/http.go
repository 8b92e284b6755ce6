package prober

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
)

// maxRedirects bounds same-host redirects, as net/http's default does.
const maxRedirects = 10

// runHTTP sends one GET and passes on a status of 200-399.
//
// A fresh Transport per probe with keep-alives off means no connection
// outlives the attempt: a probe costs a connect, and a dead or restarted
// container is never probed through a stale connection. Proxies from the
// environment are ignored; a probe goes straight to the container.
func runHTTP(ctx context.Context, a *v1.HTTPGetAction, t Target, dial Dialer, timeout time.Duration, kubeVersion string) (Result, string) {
	port, err := resolvePort(a.Port, t)
	if err != nil {
		return Unknown, "http probe: " + err.Error()
	}
	d, err := dialerFor(t, dial)
	if err != nil {
		return Unknown, "http probe: " + err.Error()
	}
	scheme := strings.ToLower(string(a.Scheme))
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return Unknown, fmt.Sprintf("http probe: unsupported scheme %q", a.Scheme)
	}
	u := probeURL(scheme, hostOf(a.Host, t), port, a.Path)

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Unknown, "http probe: " + err.Error()
	}
	setHeaders(req, a.HTTPHeaders, kubeVersion)

	tr := &http.Transport{
		Proxy:       nil,
		DialContext: d,
		// Probes check liveness, not identity: the kubelet never verifies
		// the serving certificate either.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet semantics
		TLSHandshakeTimeout: timeout,
		DisableKeepAlives:   true,
		// Only the first 10 KiB of the body are read, and only to quote
		// them; asking for gzip would just cost CPU.
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
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: sameHostRedirects,
	}

	res, err := client.Do(req)
	if err != nil {
		if canceled(ctx) {
			return Unknown, "http probe canceled"
		}
		// e.g. `Get "http://10.1.0.5:8080/healthz": dial tcp 10.1.0.5:8080:
		// connect: connection refused`, as the kubelet quotes it.
		return Failure, err.Error()
	}
	defer res.Body.Close()
	// Read at most maxOutput bytes: a server streaming an endless body must
	// not hold the probe. Closing the body then drops the connection.
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		if canceled(ctx) {
			return Unknown, "http probe canceled"
		}
		return Failure, err.Error()
	}
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return Success, ""
	case code >= 300 && code < 400:
		// A redirect that was not followed (another host, or one without a
		// Location): the kubelet passes it with a warning.
		return Success, fmt.Sprintf("Probe terminated redirects, Response body: %s", body)
	default:
		return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code)
	}
}

// probeURL joins the probe's parts. A path carrying a query
// ("/healthz?verbose") keeps it; one that does not parse is used verbatim.
func probeURL(scheme, host string, port int, path string) string {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	u.User = nil
	return u.String()
}

// setHeaders applies the probe's httpHeaders. A "Host" header sets the
// request's Host (net/http ignores it in the header map); User-Agent and
// Accept get the kubelet's values unless the probe sets its own.
func setHeaders(req *http.Request, hs []v1.HTTPHeader, kubeVersion string) {
	for _, h := range hs {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", "kube-probe/"+kubeVersion)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	}
}

// sameHostRedirects follows a redirect only to the host the probe asked for
// (any port or path); a redirect elsewhere ends the probe with the redirect
// response itself, which runHTTP reports as a Success with a warning.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}
