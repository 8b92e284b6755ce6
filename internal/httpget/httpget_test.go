package httpget

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestURL(t *testing.T) {
	tests := []struct {
		scheme, host, path string
		want               string
	}{
		{"http", "10.0.0.1", "", "http://10.0.0.1:80"},
		{"http", "10.0.0.1", "/healthz", "http://10.0.0.1:80/healthz"},
		{"http", "10.0.0.1", "healthz", "http://10.0.0.1:80/healthz"},
		{"https", "fd00::1", "/q?verbose=1", "https://[fd00::1]:80/q?verbose=1"},
		// A path that names a host or user of its own does not move the request.
		{"http", "10.0.0.1", "//evil.example/x", "http://10.0.0.1:80/x"},
		{"http", "10.0.0.1", "http://u:p@evil.example/x", "http://10.0.0.1:80/x"},
	}
	for _, tt := range tests {
		if got := URL(tt.scheme, tt.host, 80, tt.path); got != tt.want {
			t.Errorf("URL(%q, %q, %q) = %q, want %q", tt.scheme, tt.host, tt.path, got, tt.want)
		}
	}
}

func TestRoute(t *testing.T) {
	inPod := Dialer(func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("in pod") })
	tests := []struct {
		name               string
		host, podIP        string
		inPod              Dialer
		wantHost           string
		wantInPod, wantErr bool
	}{
		{name: "pod IP is the default host", podIP: "10.1.0.5", inPod: inPod, wantHost: "10.1.0.5"},
		{name: "action's host wins", host: "10.9.9.9", podIP: "10.1.0.5", inPod: inPod, wantHost: "10.9.9.9"},
		{name: "no pod IP: loopback in the pod", inPod: inPod, wantHost: "127.0.0.1", wantInPod: true},
		{name: "no pod IP: the action's host, in the pod", host: "localhost", inPod: inPod, wantHost: "localhost", wantInPod: true},
		{name: "no pod IP and no dialer", wantErr: true},
		{name: "no pod IP and no dialer, with a host", host: "127.0.0.1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, dial, err := Route(tt.host, tt.podIP, tt.inPod)
			if tt.wantErr {
				if !errors.Is(err, ErrNoRoute) || dial != nil {
					t.Fatalf("Route = %q, %v; want ErrNoRoute and no dialer", host, err)
				}
				return
			}
			if err != nil || host != tt.wantHost {
				t.Fatalf("Route = %q, %v; want %q", host, err, tt.wantHost)
			}
			_, derr := dial(context.Background(), "tcp", "192.0.2.1:1")
			if gotInPod := derr != nil && derr.Error() == "in pod"; gotInPod != tt.wantInPod {
				t.Errorf("dialed in the pod: %v, want %v", gotInPod, tt.wantInPod)
			}
		})
	}
}

// listenOn serves h on addr until t ends and returns the port.
func listenOn(t *testing.T, addr string, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRedirects: a redirect is followed to the same host (another port
// included) and never to another one, for probes and hooks alike: the
// elsewhere server gets no request and the answer is the redirect itself.
func TestRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	otherPort := listenOn(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	var samePortHits atomic.Int32
	samePort := listenOn(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { samePortHits.Add(1) }))
	mux := http.NewServeMux()
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://127.0.0.2:"+strconv.Itoa(otherPort)+"/x")
		w.WriteHeader(http.StatusFound)
		w.Write([]byte("moved"))
	})
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+strconv.Itoa(samePort)+"/y", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	port := listenOn(t, "127.0.0.1:0", mux)

	for _, agent := range []string{AgentProbe, AgentLifecycle} {
		get := func(path string) (Response, error) {
			g, err := New(context.Background(), Spec{Action: &v1.HTTPGetAction{Path: path}, Port: port, PodIP: "127.0.0.1", Agent: agent})
			if err != nil {
				t.Fatal(err)
			}
			return g.Do()
		}
		res, err := get("/other")
		if err != nil || res.StatusCode != http.StatusFound || string(res.Body) != "moved" || !strings.HasSuffix(res.Location, "/x") {
			t.Errorf("%s: GET /other = %+v, %v; want the 302 itself", agent, res, err)
		}
		if n := elsewhere.Load(); n != 0 {
			t.Errorf("%s: the other host got %d requests; a redirect there must not be followed", agent, n)
		}
		before := samePortHits.Load()
		if res, err := get("/same"); err != nil || res.StatusCode != http.StatusOK || res.Location != "" || samePortHits.Load() != before+1 {
			t.Errorf("%s: GET /same = %+v, %v, %d hits; want the same-host redirect followed", agent, res, err, samePortHits.Load()-before)
		}
		if _, err := get("/loop"); err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
			t.Errorf("%s: GET /loop: %v", agent, err)
		}
	}
}

func TestHeadersAndBody(t *testing.T) {
	var ua, accept, host atomic.Value
	port := listenOn(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.UserAgent())
		accept.Store(r.Header.Get("Accept"))
		host.Store(r.Host)
		w.Write([]byte(strings.Repeat("z", 3*BodyLimit)))
	}))
	tests := []struct {
		name, agent, version string
		headers              []v1.HTTPHeader
		wantUA, wantHost     string
	}{
		{name: "probe", agent: AgentProbe, version: "9.9", wantUA: "kube-probe/9.9", wantHost: "127.0.0.1:" + strconv.Itoa(port)},
		{name: "hook", agent: AgentLifecycle, wantUA: "kube-lifecycle/" + DefaultKubeVersion, wantHost: "127.0.0.1:" + strconv.Itoa(port)},
		{name: "spec headers", agent: AgentLifecycle, headers: []v1.HTTPHeader{{Name: "user-agent", Value: "mine"}, {Name: "HOST", Value: "a.test"}},
			wantUA: "mine", wantHost: "a.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(context.Background(), Spec{Action: &v1.HTTPGetAction{HTTPHeaders: tt.headers}, Port: port, PodIP: "127.0.0.1",
				Agent: tt.agent, KubeVersion: tt.version})
			if err != nil {
				t.Fatal(err)
			}
			res, err := g.Do()
			if err != nil || res.BodyErr != nil {
				t.Fatal(err, res.BodyErr)
			}
			if len(res.Body) != BodyLimit {
				t.Errorf("read %d bytes of the body, want %d", len(res.Body), BodyLimit)
			}
			if ua.Load() != tt.wantUA || accept.Load() != "*/*" || host.Load() != tt.wantHost {
				t.Errorf("server saw UA %q Accept %q Host %q; want %q */* %q", ua.Load(), accept.Load(), host.Load(), tt.wantUA, tt.wantHost)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(context.Background(), Spec{Action: &v1.HTTPGetAction{Scheme: "FTP"}, PodIP: "127.0.0.1"}); err == nil || !strings.Contains(err.Error(), `unsupported scheme "FTP"`) {
		t.Errorf("scheme FTP: %v", err)
	}
	if _, err := New(context.Background(), Spec{Action: &v1.HTTPGetAction{}}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("no pod IP, no dialer: %v", err)
	}
}
