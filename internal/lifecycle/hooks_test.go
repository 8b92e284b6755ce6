package lifecycle

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	c := &v1.Container{Name: "web", Ports: []v1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	h := &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{
		Path: "/hook", Port: intstr.FromString("http"),
		HTTPHeaders: []v1.HTTPHeader{{Name: "X-Hook", Value: "yes"}, {Name: "Host", Value: "example.test"}},
	}}
	dialed := false
	target := HookTarget{Container: c, UserAgent: "kube-lifecycle/1.37",
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
