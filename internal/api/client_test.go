package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientNoDaemon(t *testing.T) {
	sock := filepath.Join(shortDir(t), "mk.sock")
	err := NewClient(sock).Healthz(context.Background())
	want := "cannot connect to minikubelet at " + sock + ": is the daemon running? (dial unix " + sock + ": connect: no such file or directory)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}

	// A stale socket: the file is there, nobody listens.
	ln, lerr := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if lerr != nil {
		t.Fatal(lerr)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = NewClient(sock).ListPods(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is the daemon running?") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused: %v", err)
	}
}

func TestClientCanceled(t *testing.T) {
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.ListPods(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestClientNonStatusError(t *testing.T) {
	// Something else answering on the socket, with a plain-text error.
	sock := filepath.Join(shortDir(t), "other.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "teapot here", http.StatusTeapot)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	_, err = NewClient(sock).GetPod(context.Background(), "default", "x")
	var se *StatusError
	if !errors.As(err, &se) || se.Status.Code != http.StatusTeapot || !strings.Contains(err.Error(), "teapot here") {
		t.Errorf("err = %#v", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("a 418 is not ErrNotFound")
	}
}

func TestClientBadJSON(t *testing.T) {
	sock := filepath.Join(shortDir(t), "bad.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{not json"))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	if _, err := NewClient(sock).ListPods(context.Background()); err == nil || !strings.Contains(err.Error(), "decode response of GET /pods") {
		t.Errorf("err = %v", err)
	}
}
