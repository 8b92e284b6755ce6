package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeBackend answers from its fields and records what it was asked.
type fakeBackend struct {
	mu       sync.Mutex
	healthy  error
	pods     []v1.Pod
	events   []v1.Event
	logPath  string
	exited   func() bool
	logErr   error
	panicMsg string

	eventsAsked []string
	logAsked    []string
}

func (b *fakeBackend) Healthy() error { return b.healthy }

func (b *fakeBackend) ListPods() []v1.Pod {
	if b.panicMsg != "" {
		panic(b.panicMsg)
	}
	return b.pods
}

func (b *fakeBackend) GetPod(namespace, name string) (*v1.Pod, bool) {
	for i := range b.pods {
		if b.pods[i].Namespace == namespace && b.pods[i].Name == name {
			return &b.pods[i], true
		}
	}
	return nil, false
}

func (b *fakeBackend) Events(namespace, name string) []v1.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.eventsAsked = append(b.eventsAsked, namespace+"/"+name)
	return b.events
}

func (b *fakeBackend) ContainerLog(namespace, pod, container string, previous bool) (string, func() bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logAsked = append(b.logAsked, fmt.Sprintf("%s/%s/%s previous=%v", namespace, pod, container, previous))
	if b.logErr != nil {
		return "", nil, b.logErr
	}
	return b.logPath, b.exited, nil
}

// shortDir returns a temporary directory with a short path: unix socket
// paths are limited to 107 bytes and t.TempDir() can be longer.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServer serves b on a new socket and returns a client for it.
func startServer(t *testing.T, o ServerOptions) (*Server, *Client) {
	t.Helper()
	if o.Socket == "" {
		o.Socket = filepath.Join(shortDir(t), "mk.sock")
	}
	if o.Logger == nil {
		o.Logger = zaptest.NewLogger(t)
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, NewClient(o.Socket)
}

// do sends a raw request through c's transport.
func do(t *testing.T, c *Client, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://minikubelet"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// wantStatus checks that body is a Failure Status with code and reason and
// a message containing msg.
func wantStatus(t *testing.T, resp *http.Response, body string, code int, reason metav1.StatusReason, msg string) {
	t.Helper()
	if resp.StatusCode != code {
		t.Errorf("HTTP %d, want %d (body %s)", resp.StatusCode, code, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var st metav1.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("body is not a Status: %v: %s", err, body)
	}
	if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure ||
		st.Reason != reason || st.Code != int32(code) || !strings.Contains(st.Message, msg) {
		t.Errorf("status = %+v, want code %d reason %s message containing %q", st, code, reason, msg)
	}
}

func TestSocketModeAndCleanup(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "run", "mk.sock")
	s, err := NewServer(ServerOptions{Socket: sock, Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want socket 0660", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(sock)); err != nil || !di.IsDir() {
		t.Errorf("socket directory not created: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(sock)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after Shutdown: %v", err)
	}
}

func TestSocketGroup(t *testing.T) {
	g := fmt.Sprint(os.Getgid())
	sock := filepath.Join(shortDir(t), "mk.sock")
	startServer(t, ServerOptions{Socket: sock, Group: g, Backend: &fakeBackend{}})
	if _, err := os.Lstat(sock); err != nil {
		t.Fatal(err)
	}
	_, err := NewServer(ServerOptions{Socket: filepath.Join(shortDir(t), "x.sock"), Group: "no-such-group-mk", Backend: &fakeBackend{}})
	if err == nil || !strings.Contains(err.Error(), "no-such-group-mk") {
		t.Errorf("unknown group: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	sock := filepath.Join(shortDir(t), "mk.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the file stays, nothing listens: a crashed daemon's socket

	_, c := startServer(t, ServerOptions{Socket: sock, Backend: &fakeBackend{}})
	if err := c.Healthz(context.Background()); err != nil {
		t.Errorf("Healthz on replaced socket: %v", err)
	}
}

func TestLiveSocketRefused(t *testing.T) {
	sock := filepath.Join(shortDir(t), "mk.sock")
	startServer(t, ServerOptions{Socket: sock, Backend: &fakeBackend{}})
	_, err := NewServer(ServerOptions{Socket: sock, Backend: &fakeBackend{}})
	if err == nil || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second server: %v, want an in-use error naming %s", err, sock)
	}
}

func TestSocketPathProblems(t *testing.T) {
	dir := shortDir(t)
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    ServerOptions
		want string
	}{
		{"not a socket", ServerOptions{Socket: file, Backend: &fakeBackend{}}, "is not a socket"},
		{"too long", ServerOptions{Socket: "/" + strings.Repeat("x", 120), Backend: &fakeBackend{}}, "too long"},
		{"no socket", ServerOptions{Backend: &fakeBackend{}}, "socket path is required"},
		{"no backend", ServerOptions{Socket: filepath.Join(dir, "a.sock")}, "backend is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewServer(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Error("a regular file at the socket path was replaced")
	}
}
