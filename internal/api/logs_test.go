package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/containerlog"
)

var logStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newLog writes lines (one second apart from logStart) to a new log and
// returns the writer, still open, for more.
func newLog(t *testing.T, lines ...string) (string, *containerlog.Writer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	var n atomic.Int64
	clock := func() time.Time { return logStart.Add(time.Duration(n.Add(1)-1) * time.Second) }
	w, err := containerlog.NewWriter(containerlog.LoggerSpec{Path: path}, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	for _, l := range lines {
		w.Stream("stdout", strings.NewReader(l+"\n"))
	}
	return path, w
}

func TestContainerLogs(t *testing.T) {
	path, _ := newLog(t, "one", "two", "three")
	b := &fakeBackend{logPath: path}
	_, c := startServer(t, ServerOptions{Backend: b})
	ctx := context.Background()
	tail := int64(2)
	limit := int64(5)
	since := logStart.Add(2 * time.Second)

	tests := []struct {
		name string
		o    LogOptions
		want string
	}{
		{"all", LogOptions{}, "one\ntwo\nthree\n"},
		{"tail", LogOptions{TailLines: &tail}, "two\nthree\n"},
		{"timestamps", LogOptions{TailLines: &tail, Timestamps: true},
			"2024-05-01T12:00:01Z two\n2024-05-01T12:00:02Z three\n"},
		{"limit", LogOptions{LimitBytes: &limit}, "one\nt"},
		{"since", LogOptions{SinceTime: &since}, "three\n"},
		{"previous", LogOptions{Previous: true}, "one\ntwo\nthree\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := c.Logs(ctx, "default", "nginx", "web", tt.o, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
	if last := b.logAsked[len(b.logAsked)-1]; last != "default/nginx/web previous=true" {
		t.Errorf("backend asked %q", last)
	}
}

func TestContainerLogsErrors(t *testing.T) {
	path, _ := newLog(t, "x")
	b := &fakeBackend{logPath: path}
	_, c := startServer(t, ServerOptions{Backend: b})

	for _, tt := range []struct{ query, param string }{
		{"follow=maybe", "follow"},
		{"previous=2", "previous"},
		{"timestamps=yes", "timestamps"},
		{"tailLines=-1", "tailLines"},
		{"tailLines=ten", "tailLines"},
		{"limitBytes=0", "limitBytes"},
		{"sinceSeconds=0", "sinceSeconds"},
		{"sinceTime=yesterday", "sinceTime"},
		{"sinceTime=2024-05-01T12:00:00Z&sinceSeconds=5", "sinceSeconds"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := do(t, c, http.MethodGet, "/containerLogs/default/nginx/web?"+tt.query)
			wantStatus(t, resp, body, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("%q", tt.param))
		})
	}

	// Present without a value means true, as in the kubelet.
	resp, body := do(t, c, http.MethodGet, "/containerLogs/default/nginx/web?timestamps")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "2024-05-01T12:00:00Z x") {
		t.Errorf("timestamps without value: %d %q", resp.StatusCode, body)
	}

	ctx := context.Background()
	b.logErr = fmt.Errorf(`previous terminated container "web" in pod "nginx" not found: %w`, ErrNotFound)
	err := c.Logs(ctx, "default", "nginx", "web", LogOptions{Previous: true}, &bytes.Buffer{})
	if !errors.Is(err, ErrNotFound) || err.Error() != `previous terminated container "web" in pod "nginx" not found: not found` {
		t.Errorf("previous missing: %v", err)
	}

	b.logErr = fmt.Errorf(`container "web" in pod "nginx" is waiting to start: ContainerCreating: %w`, ErrBadRequest)
	err = c.Logs(ctx, "default", "nginx", "web", LogOptions{}, &bytes.Buffer{})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "waiting to start") {
		t.Errorf("waiting: %v", err)
	}

	b.logErr = errors.New("state store broken")
	resp, body = do(t, c, http.MethodGet, "/containerLogs/default/nginx/web")
	wantStatus(t, resp, body, http.StatusInternalServerError, metav1.StatusReasonInternalError, "state store broken")

	b.logErr, b.logPath = nil, filepath.Join(t.TempDir(), "gone.log")
	resp, body = do(t, c, http.MethodGet, "/containerLogs/default/nginx/web")
	wantStatus(t, resp, body, http.StatusNotFound, metav1.StatusReasonNotFound, `log of container "web" in pod "nginx" not found`)
}

// lockedBuffer is a bytes.Buffer for one writer and one poller.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, b *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("got %q, want %q", b.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestContainerLogsFollow(t *testing.T) {
	path, w := newLog(t, "one")
	var exited atomic.Bool
	b := &fakeBackend{logPath: path, exited: exited.Load}
	_, c := startServer(t, ServerOptions{Backend: b})

	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- c.Logs(context.Background(), "default", "nginx", "web", LogOptions{Follow: true}, out) }()

	waitFor(t, out, "one\n")
	w.Stream("stdout", strings.NewReader("two\n"))
	waitFor(t, out, "one\ntwo\n")
	w.Stream("stderr", strings.NewReader("three\n"))
	exited.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after the container exited")
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("got %q", out.String())
	}
}

func TestShutdownEndsFollow(t *testing.T) {
	path, _ := newLog(t, "one")
	s, c := startServer(t, ServerOptions{Backend: &fakeBackend{logPath: path}})

	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- c.Logs(context.Background(), "default", "nginx", "web", LogOptions{Follow: true}, out) }()
	waitFor(t, out, "one\n")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("client follow did not end")
	}
}

func TestClientCancelEndsFollow(t *testing.T) {
	path, _ := newLog(t, "one")
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{logPath: path}})
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- c.Logs(ctx, "default", "nginx", "web", LogOptions{Follow: true}, out) }()
	waitFor(t, out, "one\n")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end on cancel")
	}
}

func TestLogOptionsQuery(t *testing.T) {
	tail, limit := int64(0), int64(10)
	since := time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("x", 3600))
	q := LogOptions{Follow: true, Previous: true, TailLines: &tail, Timestamps: true, LimitBytes: &limit, SinceTime: &since}.query()
	want := url.Values{"follow": {"true"}, "previous": {"true"}, "tailLines": {"0"}, "timestamps": {"true"},
		"limitBytes": {"10"}, "sinceTime": {"2024-05-01T13:00:00Z"}}
	if q.Encode() != want.Encode() {
		t.Errorf("query %s, want %s", q.Encode(), want.Encode())
	}
	if q := (LogOptions{}).query(); len(q) != 0 {
		t.Errorf("empty options give %s", q.Encode())
	}
}

func TestContainerLogsHeadFollow(t *testing.T) {
	path, _ := newLog(t, "one")
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{logPath: path}})
	resp, body := do(t, c, http.MethodHead, "/containerLogs/default/nginx/web?follow=true")
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
}
