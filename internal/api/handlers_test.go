package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPods() []v1.Pod {
	return []v1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx", Labels: map[string]string{"app": "web"}},
			Status: v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.88.0.2"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "dns"},
			Status: v1.PodStatus{Phase: v1.PodPending}},
	}
}

func TestHealthz(t *testing.T) {
	b := &fakeBackend{}
	_, c := startServer(t, ServerOptions{Backend: b})
	ctx := context.Background()

	resp, body := do(t, c, http.MethodGet, "/healthz")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("healthy: %d %q", resp.StatusCode, body)
	}
	if err := c.Healthz(ctx); err != nil {
		t.Errorf("Healthz: %v", err)
	}

	b.healthy = errors.New("containerd is not reachable")
	resp, body = do(t, c, http.MethodGet, "/healthz")
	wantStatus(t, resp, body, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "containerd is not reachable")
	err := c.Healthz(ctx)
	var se *StatusError
	if !errors.As(err, &se) || se.Status.Code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "containerd is not reachable") {
		t.Errorf("Healthz = %v", err)
	}
}

func TestPods(t *testing.T) {
	b := &fakeBackend{pods: testPods()}
	_, c := startServer(t, ServerOptions{Backend: b})
	ctx := context.Background()

	list, err := c.ListPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 2 ||
		list.Items[0].Name != "nginx" || list.Items[0].Status.PodIP != "10.88.0.2" {
		t.Errorf("ListPods = %+v", list)
	}

	pod, err := c.GetPod(ctx, "default", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" || pod.Labels["app"] != "web" || pod.Status.Phase != v1.PodRunning {
		t.Errorf("GetPod = %+v", pod)
	}
	if b.pods[0].Kind != "" {
		t.Error("GetPod changed the backend's pod")
	}

	_, err = c.GetPod(ctx, "default", "missing")
	if !errors.Is(err, ErrNotFound) || err.Error() != `pods "missing" not found` {
		t.Errorf("GetPod(missing) = %v", err)
	}
	resp, body := do(t, c, http.MethodGet, "/pods/default/missing")
	wantStatus(t, resp, body, http.StatusNotFound, metav1.StatusReasonNotFound, `pods "missing" not found`)
}

func TestEmptyListsAreArrays(t *testing.T) {
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{}})
	for _, path := range []string{"/pods", "/events"} {
		_, body := do(t, c, http.MethodGet, path)
		if !strings.Contains(body, `"items":[]`) {
			t.Errorf("%s: %s", path, body)
		}
	}
}

func TestEvents(t *testing.T) {
	b := &fakeBackend{events: []v1.Event{{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "default", Name: "nginx.1"},
		InvolvedObject: v1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "nginx"},
		Reason:         "Pulled",
		Source:         v1.EventSource{Component: "minikubelet"},
	}}}
	_, c := startServer(t, ServerOptions{Backend: b})
	ctx := context.Background()

	list, err := c.Events(ctx, "default", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	if list.Kind != "EventList" || list.APIVersion != "v1" || len(list.Items) != 1 || list.Items[0].Reason != "Pulled" {
		t.Errorf("Events = %+v", list)
	}
	if _, err := c.Events(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.eventsAsked, " "); got != "default/nginx /" {
		t.Errorf("backend asked %q", got)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "minikubelet_test_total", Help: "test"})
	reg.MustRegister(counter)
	counter.Inc()
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{}, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	resp, body := do(t, c, http.MethodGet, "/metrics")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "minikubelet_test_total 1") {
		t.Errorf("metrics: %d %s", resp.StatusCode, body)
	}

	_, c = startServer(t, ServerOptions{Backend: &fakeBackend{}})
	resp, body = do(t, c, http.MethodGet, "/metrics")
	wantStatus(t, resp, body, http.StatusNotFound, metav1.StatusReasonNotFound, "metrics")
}

func TestRouting(t *testing.T) {
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{pods: testPods()}})
	tests := []struct {
		method, path string
		code         int
		reason       metav1.StatusReason
		msg          string
	}{
		{http.MethodGet, "/nope", 404, metav1.StatusReasonNotFound, "/nope"},
		{http.MethodGet, "/pods/default", 404, metav1.StatusReasonNotFound, "/pods/default"},
		{http.MethodGet, "/pods/default/nginx/extra", 404, metav1.StatusReasonNotFound, "/pods/default/nginx/extra"},
		{http.MethodPost, "/pods", 405, metav1.StatusReasonMethodNotAllowed, "POST"},
		{http.MethodDelete, "/pods/default/nginx", 405, metav1.StatusReasonMethodNotAllowed, "DELETE"},
		{http.MethodPut, "/containerLogs/default/nginx/c", 405, metav1.StatusReasonMethodNotAllowed, "PUT"},
		{http.MethodPost, "/healthz", 405, metav1.StatusReasonMethodNotAllowed, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := do(t, c, tt.method, tt.path)
			wantStatus(t, resp, body, tt.code, tt.reason, tt.msg)
			if tt.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
	if resp, _ := do(t, c, http.MethodHead, "/pods"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /pods: %d", resp.StatusCode)
	}
}

func TestPanicRecovered(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	b := &fakeBackend{panicMsg: "boom"}
	_, c := startServer(t, ServerOptions{Backend: b, Logger: zap.New(core)})

	resp, body := do(t, c, http.MethodGet, "/pods")
	wantStatus(t, resp, body, http.StatusInternalServerError, metav1.StatusReasonInternalError, "/pods")
	if entries := logs.FilterMessage("handler panicked").All(); len(entries) != 1 ||
		entries[0].ContextMap()["panic"] != "boom" || entries[0].LoggerName != "api" {
		t.Errorf("panic log = %+v", logs.All())
	}

	// The server keeps serving.
	b.panicMsg = ""
	if _, err := c.ListPods(context.Background()); err != nil {
		t.Errorf("after panic: %v", err)
	}
}

func TestStatusErrorShape(t *testing.T) {
	st := newStatus(http.StatusBadRequest, "bad")
	data, _ := json.Marshal(st)
	var m map[string]any
	json.Unmarshal(data, &m)
	for k, want := range map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"reason": "BadRequest", "message": "bad", "code": float64(400)} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], want, data)
		}
	}
}

func TestPprof(t *testing.T) {
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{}})
	resp, body := do(t, c, http.MethodGet, "/debug/pprof/goroutine?debug=1")
	// The goroutine profile lists this very handler.
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("goroutine profile: %d %.200s", resp.StatusCode, body)
	}
	resp, body = do(t, c, http.MethodGet, "/debug/pprof/nosuchprofile")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown profile: %d %.200s", resp.StatusCode, body)
	}
	resp, body = do(t, c, http.MethodPost, "/debug/pprof/heap")
	wantStatus(t, resp, body, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "POST")
}
