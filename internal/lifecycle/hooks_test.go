package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
)

type fakeExec struct {
	out  string
	code int
	err  error
	got  []string
}

func (f *fakeExec) Exec(_ context.Context, _ string, cmd []string, _ time.Duration) ([]byte, int, error) {
	f.got = cmd
	return []byte(f.out), f.code, f.err
}

func TestExecHook(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	h := &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sh", "-c", "echo hi"}}}
	target := HookTarget{Container: &v1.Container{Name: "c"}, ContainerID: "id"}
	ex := &fakeExec{out: "hi\n"}
	if out, err := RunHook(context.Background(), h, target, ex, clk); err != nil || out != "hi\n" || len(ex.got) != 3 {
		t.Fatalf("out %q err %v cmd %v", out, err, ex.got)
	}
	ex = &fakeExec{out: "boom", code: 2}
	out, err := RunHook(context.Background(), h, target, ex, clk)
	if err == nil || !strings.Contains(err.Error(), "exited with 2") || strings.Contains(err.Error(), "boom") || out != "boom" {
		t.Fatalf("out %q err %v: the output belongs in the log, not the error", out, err)
	}
}

func TestSleepHookFollowsClockAndContext(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	h := &v1.LifecycleHandler{Sleep: &v1.SleepAction{Seconds: 5}}
	done := make(chan error, 1)
	go func() { _, err := RunHook(context.Background(), h, HookTarget{}, nil, clk); done <- err }()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(5 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunHook(ctx, h, HookTarget{}, nil, clk); err == nil {
		t.Fatal("a cancelled sleep hook succeeded")
	}
}

func TestHTTPHook(t *testing.T) {
	var gotUA, gotHeader, gotHost, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotHeader, gotHost, gotPath = r.UserAgent(), r.Header.Get("X-Hook"), r.Host, r.URL.Path
		w.WriteHeader(http.StatusInternalServerError) // any answer is a success
	}))
	defer srv.Close()
	port := portOf(srv)
	c := &v1.Container{Name: "web", Ports: []v1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	h := &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{
		Path: "/hook", Port: intstr.FromString("http"),
		HTTPHeaders: []v1.HTTPHeader{{Name: "X-Hook", Value: "yes"}, {Name: "Host", Value: "example.test"}},
	}}
	dialed := false
	target := HookTarget{Container: c, KubeVersion: "1.37",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = true
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	out, err := RunHook(context.Background(), h, target, nil, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if !dialed || gotUA != "kube-lifecycle/1.37" || gotHeader != "yes" || gotHost != "example.test" || gotPath != "/hook" || !strings.HasPrefix(out, "HTTP 500") {
		t.Fatalf("dialed %v ua %q header %q host %q path %q out %q", dialed, gotUA, gotHeader, gotHost, gotPath, out)
	}
	h.HTTPGet.Port = intstr.FromString("nope")
	if _, err := RunHook(context.Background(), h, target, nil, clocktesting.NewFakeClock(time.Now())); err == nil || !strings.Contains(err.Error(), `no container port named "nope"`) {
		t.Fatalf("err %v", err)
	}
	srv.Close()
	h.HTTPGet.Port = intstr.FromInt32(int32(port))
	if _, err := RunHook(context.Background(), h, target, nil, clocktesting.NewFakeClock(time.Now())); err == nil {
		t.Fatal("a hook with nobody listening succeeded")
	}
}

// TestHTTPHookRedirects: a hook's GET follows a redirect only to its own
// host. One to another host is not sent (the daemon dials from the host's
// network namespace); as in the kubelet, the redirect is the answer and
// the hook succeeds.
func TestHTTPHookRedirects(t *testing.T) {
	var elsewhere, same atomic.Int32
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	other.Listener = ln
	other.Start()
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/other":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/done", http.StatusFound)
		case "/done":
			same.Add(1)
		}
	}))
	defer srv.Close()
	port := portOf(srv)
	target := HookTarget{Container: &v1.Container{Name: "web"}, PodIP: "127.0.0.1"}
	hook := func(path string) (string, error) {
		h := &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}}
		return RunHook(context.Background(), h, target, nil, clocktesting.NewFakeClock(time.Now()))
	}
	out, err := hook("/other")
	if err != nil || !strings.Contains(out, "HTTP 302 (redirect to "+other.URL+"/x not followed)") {
		t.Errorf("hook redirected elsewhere: out %q err %v; want success with the redirect unfollowed", out, err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests from the hook", n)
	}
	if out, err := hook("/same"); err != nil || !strings.HasPrefix(out, "HTTP 200") || same.Load() != 1 {
		t.Errorf("same-host redirect: out %q err %v, %d requests at its target; want it followed", out, err, same.Load())
	}
}

// TestHTTPHookNoRoute: a pod with no IP and no dialer into its network
// namespace is not reached from the host's namespace instead (the
// daemon's own 127.0.0.1 is not the pod's); the hook fails, as a probe
// does.
func TestHTTPHookNoRoute(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := portOf(srv)
	h := &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port))}}
	_, err := RunHook(context.Background(), h, HookTarget{Container: &v1.Container{Name: "c"}}, nil, clocktesting.NewFakeClock(time.Now()))
	if err == nil || !strings.Contains(err.Error(), "no pod IP and no dialer") || hits.Load() != 0 {
		t.Errorf("err %v, %d requests at the host's 127.0.0.1; want a no-route error and none", err, hits.Load())
	}
}

// TestHTTPHookBoundedByDeadline: a hook whose server never answers ends
// at its context's deadline (a preStop hook's grace period), with an
// error the pod worker knows as the grace period's end.
func TestHTTPHookBoundedByDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	port := portOf(srv)
	h := &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port))}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := RunHook(ctx, h, HookTarget{Container: &v1.Container{Name: "c"}, PodIP: "127.0.0.1"}, nil, clocktesting.NewFakeClock(time.Now()))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %s; want context.DeadlineExceeded near 200ms", err, time.Since(start))
	}
}

// portOf is the port srv listens on.
func portOf(srv *httptest.Server) int {
	return srv.Listener.Addr().(*net.TCPAddr).Port
}
