package prober

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// seen is what the test server saw of the last request.
type seen struct {
	mu  sync.Mutex
	req *http.Request
}

func (s *seen) set(r *http.Request) { s.mu.Lock(); s.req = r; s.mu.Unlock() }
func (s *seen) get() *http.Request  { s.mu.Lock(); defer s.mu.Unlock(); return s.req }

// probeMux serves the paths the http probe tests ask for.
func probeMux(last *seen) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { last.set(r); w.Write([]byte("ok")) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/same-500", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/500", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://elsewhere.example/ok")
		w.WriteHeader(http.StatusMovedPermanently)
		w.Write([]byte("moved " + strings.Repeat("x", 4*maxOutput)))
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		// A body that never ends: the probe must stop reading at the cap.
		chunk := []byte(strings.Repeat("y", 4096))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	return mux
}

func httpProbe(path string, port intstr.IntOrString, headers ...v1.HTTPHeader) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: path, Port: port, HTTPHeaders: headers}}}
}

func TestRunHTTP(t *testing.T) {
	last := &seen{}
	srv := httptest.NewServer(probeMux(last))
	t.Cleanup(srv.Close)
	tls := httptest.NewTLSServer(probeMux(last))
	t.Cleanup(tls.Close)
	port := portOf(t, srv.Listener.Addr().String())
	tlsPort := portOf(t, tls.Listener.Addr().String())
	num := intstr.FromInt32(port)
	c := v1.Container{Name: "c", Ports: []v1.ContainerPort{{Name: "http", ContainerPort: port}}}

	tests := []struct {
		name    string
		probe   *v1.Probe
		noIP    bool
		want    Result
		wantMsg string // a substring of the message; "" means empty
	}{
		{name: "200", probe: httpProbe("/ok", num), want: Success},
		{name: "named port", probe: httpProbe("/ok", intstr.FromString("http")), want: Success},
		{name: "500", probe: httpProbe("/500", num), want: Failure, wantMsg: "HTTP probe failed with statuscode: 500"},
		{name: "404", probe: httpProbe("/404", num), want: Failure, wantMsg: "HTTP probe failed with statuscode: 404"},
		{name: "redirect to the same host is followed", probe: httpProbe("/same", num), want: Success},
		{name: "followed redirect reaches a 500", probe: httpProbe("/same-500", num), want: Failure, wantMsg: "statuscode: 500"},
		{name: "redirect loop stops", probe: httpProbe("/loop", num), want: Failure, wantMsg: "stopped after 10 redirects"},
		{name: "redirect to another host passes with a warning", probe: httpProbe("/other", num), want: Success,
			wantMsg: "Probe terminated redirects, Response body: moved xxx"},
		{name: "endless body is cut at the cap", probe: httpProbe("/endless", num), want: Success},
		{name: "https without verification", probe: &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
			Path: "/ok", Port: intstr.FromInt32(tlsPort), Scheme: v1.URISchemeHTTPS}}}, want: Success},
		{name: "http to an https port fails", probe: httpProbe("/ok", intstr.FromInt32(tlsPort)), want: Failure, wantMsg: "statuscode: 400"},
		{name: "refused", probe: httpProbe("/ok", intstr.FromInt32(closedPort(t))), want: Failure, wantMsg: "connect: connection refused"},
		{name: "unknown port name", probe: httpProbe("/ok", intstr.FromString("nope")), want: Unknown, wantMsg: "nope"},
		{name: "bad scheme", probe: &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Port: num, Scheme: "FTP"}}},
			want: Unknown, wantMsg: "unsupported scheme"},
		{name: "no pod IP and no dialer", probe: httpProbe("/ok", num), noIP: true, want: Unknown, wantMsg: "has no IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := "127.0.0.1"
			if tt.noIP {
				ip = ""
			}
			got, msg := Run(context.Background(), tt.probe, testTarget(c, ip), nil, nil)
			if got != tt.want || (tt.wantMsg == "" && msg != "") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Run = %v, %.200q; want %v, %q", got, msg, tt.want, tt.wantMsg)
			}
			if len(msg) > maxOutput+100 {
				t.Errorf("message is %d bytes; the body was not capped", len(msg))
			}
		})
	}
}

func TestRunHTTPHeaders(t *testing.T) {
	last := &seen{}
	srv := httptest.NewServer(probeMux(last))
	t.Cleanup(srv.Close)
	port := intstr.FromInt32(portOf(t, srv.Listener.Addr().String()))
	c := v1.Container{Name: "c"}

	tests := []struct {
		name        string
		headers     []v1.HTTPHeader
		kubeVersion string
		wantHost    string
		wantUA      string
		wantAccept  string
		wantCustom  []string
	}{
		{name: "defaults", kubeVersion: "1.37", wantHost: srv.Listener.Addr().String(),
			wantUA: "kube-probe/1.37", wantAccept: "*/*"},
		{name: "manager's version", kubeVersion: "9.9", wantHost: srv.Listener.Addr().String(),
			wantUA: "kube-probe/9.9", wantAccept: "*/*"},
		{name: "from the spec", kubeVersion: "1.37",
			headers: []v1.HTTPHeader{{Name: "Host", Value: "example.com"}, {Name: "User-Agent", Value: "mine"},
				{Name: "Accept", Value: "application/json"}, {Name: "X-Custom", Value: "a"}, {Name: "x-custom", Value: "b"}},
			wantHost: "example.com", wantUA: "mine", wantAccept: "application/json", wantCustom: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := run(context.Background(), httpProbe("/ok", port, tt.headers...), testTarget(c, "127.0.0.1"), nil, nil, tt.kubeVersion)
			if got != Success {
				t.Fatalf("run = %v, %q", got, msg)
			}
			r := last.get()
			if r.Host != tt.wantHost || r.UserAgent() != tt.wantUA || r.Header.Get("Accept") != tt.wantAccept {
				t.Errorf("server saw Host %q UA %q Accept %q; want %q %q %q",
					r.Host, r.UserAgent(), r.Header.Get("Accept"), tt.wantHost, tt.wantUA, tt.wantAccept)
			}
			if got := r.Header.Values("X-Custom"); strings.Join(got, ",") != strings.Join(tt.wantCustom, ",") {
				t.Errorf("X-Custom = %q, want %q", got, tt.wantCustom)
			}
			if r.Header.Get("Accept-Encoding") != "" {
				t.Errorf("Accept-Encoding %q sent; compression should be off", r.Header.Get("Accept-Encoding"))
			}
		})
	}
}

func TestRunHTTPThroughDialer(t *testing.T) {
	last := &seen{}
	srv := httptest.NewServer(probeMux(last))
	t.Cleanup(srv.Close)
	port := portOf(t, srv.Listener.Addr().String())
	rd := &recordingDialer{}
	// No pod IP: the probe goes to 127.0.0.1 inside the pod's netns, i.e.
	// through the dialer; a same-host redirect goes the same way.
	got, msg := Run(context.Background(), httpProbe("/same", intstr.FromInt32(port)), testTarget(v1.Container{Name: "c"}, ""), nil, rd.dial)
	if got != Success {
		t.Fatalf("Run = %v, %q", got, msg)
	}
	want := "tcp 127.0.0.1:" + itoa(port)
	if len(rd.addrs) != 2 || rd.addrs[0] != want || rd.addrs[1] != want {
		t.Errorf("dialer saw %q, want %q twice (request and redirect)", rd.addrs, want)
	}
}

func TestRunHTTPTimeout(t *testing.T) {
	srv := httptest.NewServer(probeMux(&seen{}))
	t.Cleanup(srv.Close)
	p := httpProbe("/slow", intstr.FromInt32(portOf(t, srv.Listener.Addr().String())))
	p.TimeoutSeconds = 1
	start := time.Now()
	got, msg := Run(context.Background(), p, testTarget(v1.Container{Name: "c"}, "127.0.0.1"), nil, nil)
	if got != Failure || !strings.Contains(msg, "Client.Timeout exceeded") {
		t.Errorf("Run = %v, %q; want a timeout Failure", got, msg)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("probe took %v with a 1s timeout", d)
	}
}

func TestRunHTTPCanceled(t *testing.T) {
	srv := httptest.NewServer(probeMux(&seen{}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	p := httpProbe("/slow", intstr.FromInt32(portOf(t, srv.Listener.Addr().String())))
	if got, msg := Run(ctx, p, testTarget(v1.Container{Name: "c"}, "127.0.0.1"), nil, nil); got != Unknown {
		t.Errorf("Run = %v, %q; a canceled probe is no verdict", got, msg)
	}
}

func TestRunHTTP2Cleartext(t *testing.T) {
	var proto atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proto.Store(int32(r.ProtoMajor)) }))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	h2 := v1.HTTPProtocolHTTP2
	p := httpProbe("/", intstr.FromInt32(portOf(t, srv.Listener.Addr().String())))
	p.HTTPGet.Protocol = &h2
	if got, msg := Run(context.Background(), p, testTarget(v1.Container{Name: "c"}, "127.0.0.1"), nil, nil); got != Success || proto.Load() != 2 {
		t.Errorf("Run = %v, %q over HTTP/%d; want Success over HTTP/2", got, msg, proto.Load())
	}
}
