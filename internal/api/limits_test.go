package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rawRequest sends a request's head (and part of a body) on a new
// connection to the server and leaves the connection to the test.
func rawRequest(t *testing.T, socket, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestImportStalledBodyCutOff: a client that sends part of an archive and
// stops is cut off after the read timeout with a 408 Status, instead of
// holding the import (and its containerd lease) for as long as it likes.
func TestImportStalledBodyCutOff(t *testing.T) {
	sock := filepath.Join(shortDir(t), "mk.sock")
	b := &fakeImages{}
	startServer(t, ServerOptions{Socket: sock, Backend: b, ReadTimeout: 200 * time.Millisecond})
	conn := rawRequest(t, sock, "POST /images HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npart of an archive")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled import: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("HTTP %d, want 408", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut off after %v", d)
	}
}

// TestImportContentLengthOverCap: an archive announced larger than the cap
// is refused before a byte of it is read.
func TestImportContentLengthOverCap(t *testing.T) {
	sock := filepath.Join(shortDir(t), "mk.sock")
	b := &fakeImages{}
	startServer(t, ServerOptions{Socket: sock, Backend: b, MaxImageImportSize: 10})
	conn := rawRequest(t, sock, "POST /images HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&body)
	wantStatus(t, resp, body.String(), http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, "11 bytes is over the limit of 10 bytes (max-image-import-size)")
	if len(b.imported) != 0 {
		t.Errorf("backend imported %q", b.imported)
	}
}

// TestImportErrorCodes: the backend's errors keep their meaning.
func TestImportErrorCodes(t *testing.T) {
	for _, tt := range []struct {
		err    error
		code   int
		reason metav1.StatusReason
	}{
		{fmt.Errorf("another import runs: %w", ErrBusy), 429, metav1.StatusReasonTooManyRequests},
		{fmt.Errorf("over the cap: %w", ErrTooLarge), 413, metav1.StatusReasonRequestEntityTooLarge},
		{fmt.Errorf("image x is in use: %w", ErrConflict), 409, metav1.StatusReasonConflict},
		{fmt.Errorf("not a tar"), 400, metav1.StatusReasonBadRequest},
	} {
		b := &fakeImages{importErr: tt.err}
		_, c := startServer(t, ServerOptions{Backend: b})
		_, err := c.ImportImages(context.Background(), strings.NewReader("archive"))
		se, ok := err.(*StatusError)
		if !ok || se.Status.Code != int32(tt.code) || se.Status.Reason != tt.reason || !strings.Contains(se.Error(), tt.err.Error()) {
			t.Errorf("%v: got %v (%#v)", tt.err, err, se)
		}
	}
}

// TestLogFollowersCappedAndCutOff: past the cap a follow is a 429 Status,
// and a follower that stops reading is cut off by the write deadline,
// which frees its place.
func TestLogFollowersCappedAndCutOff(t *testing.T) {
	path, w := newLog(t, "one")
	sock := filepath.Join(shortDir(t), "mk.sock")
	b := &fakeBackend{logPath: path}
	_, c := startServer(t, ServerOptions{Socket: sock, Backend: b, MaxLogFollowers: 1, WriteTimeout: 200 * time.Millisecond})

	// A follower that reads its headers and then nothing more.
	stuck := rawRequest(t, sock, "GET /containerLogs/default/nginx/web?follow=true HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(stuck), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first follow: %v %v", resp, err)
	}

	r, body := do(t, c, http.MethodGet, "/containerLogs/default/nginx/web?follow=true")
	wantStatus(t, r, body, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, "too many log follows at once (1)")
	// Without follow the cap does not apply.
	if r, body := do(t, c, http.MethodGet, "/containerLogs/default/nginx/web"); r.StatusCode != http.StatusOK || body != "one\n" {
		t.Errorf("plain read while at the cap: %d %q", r.StatusCode, body)
	}

	// Far more than the socket buffers hold: the stuck follower's writes
	// block until the deadline cuts it off.
	line := strings.Repeat("x", 1<<16)
	for range 128 {
		w.Stream("stdout", strings.NewReader(line+"\n"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := c.do(ctx, http.MethodGet, "/containerLogs/default/nginx/web", url.Values{"follow": {"true"}}, nil)
		if err == nil {
			resp.Body.Close()
			cancel()
			break
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("the stuck follower still holds its place: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProfileSecondsCapped: seconds past the cap (or not a number) is a
// 400 Status; within it the profile is served.
func TestProfileSecondsCapped(t *testing.T) {
	_, c := startServer(t, ServerOptions{Backend: &fakeBackend{}})
	for _, p := range []string{"/debug/pprof/profile?seconds=61", "/debug/pprof/trace?seconds=86400", "/debug/pprof/heap?seconds=-1", "/debug/pprof/profile?seconds=x"} {
		resp, body := do(t, c, http.MethodGet, p)
		wantStatus(t, resp, body, http.StatusBadRequest, metav1.StatusReasonBadRequest, `query parameter "seconds": must be an integer from 0 to 60`)
	}
	if resp, body := do(t, c, http.MethodGet, "/debug/pprof/trace?seconds=0"); resp.StatusCode != http.StatusOK {
		t.Errorf("trace of 0 s: %d %.200s", resp.StatusCode, body)
	}
}

// TestSocketPermissionsNotByPath: swapping the directory the socket is
// bound in for a link to another directory, between the bind and the
// chmod, changes nothing there: the mode and owner are set through the
// directory's descriptor. (Set by path, the chmod would follow the link
// and make the victim 0660.)
func TestSocketPermissionsNotByPath(t *testing.T) {
	dir := shortDir(t)
	victimDir := filepath.Join(dir, "victim")
	if err := os.Mkdir(victimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(victimDir, "s")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	swapped := false
	afterBind = func(private string) {
		if err := os.Rename(private, private+".moved"); err != nil {
			t.Error(err)
			return
		}
		if err := os.Symlink(victimDir, private); err != nil {
			t.Error(err)
			return
		}
		swapped = true
	}
	t.Cleanup(func() { afterBind = func(string) {} })
	sock := filepath.Join(dir, "mk.sock")
	_, c := startServer(t, ServerOptions{Socket: sock, Backend: &fakeBackend{}})
	if !swapped {
		t.Fatal("the private directory was not swapped")
	}
	if fi, err := os.Stat(victim); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("victim: %v %v, want mode 0600", fi.Mode(), err)
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket: %v %v", fi.Mode(), err)
	}
	if err := c.Healthz(context.Background()); err != nil {
		t.Errorf("socket does not serve: %v", err)
	}
}
