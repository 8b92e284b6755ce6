package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSocketRefusesOthersAndHostileRequests: a non-root user cannot use
// the socket; malformed and hostile requests get 4xx answers and leave the
// daemon healthy.
func TestSocketRefusesOthersAndHostileRequests(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	d.writeManifest("web.yaml", minimalPod("web"))
	d.waitRunning("default", "web")

	t.Run("non-root user refused", func(t *testing.T) {
		cmd := exec.Command(filepath.Join(d.env.bin, "minikubelet"), "get", "pods", "--socket", d.socket)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("nobody could list pods:\n%s", out)
		}
		if !strings.Contains(string(out), "permission denied") {
			t.Errorf("the refusal does not say why:\n%s", out)
		}
	})

	raw := func(t *testing.T, request string) int {
		t.Helper()
		c, err := net.DialTimeout("unix", d.socket, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(request)); err != nil {
			return 0 // the server may close on an oversized request
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name, request string
	}{
		{"unknown route", "GET /api/v1/secrets HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"path traversal in a log route", "GET /containerLogs/default/web/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"traversal as pod name", "GET /containerLogs/default/../../etc/main HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bad tailLines", "GET /containerLogs/default/web/main?tailLines=lots HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"wrong method", "DELETE /pods/default/web HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"garbage", "\x00\x01\x02 not http at all\r\n\r\n"},
		{"oversized header", "GET /pods HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := raw(t, tt.request)
			if code != 0 && (code < 400 || code >= 500) {
				t.Errorf("answered %d, want a 4xx (or a closed connection)", code)
			}
		})
	}
	// Still healthy and still serving the pod.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.client.Healthz(ctx); err != nil {
		t.Fatalf("unhealthy after hostile requests: %v", err)
	}
	if p, err := d.getPod("default", "web"); err != nil || p.Status.Phase != "Running" {
		t.Fatalf("pod after hostile requests: %v %v", p, err)
	}
	if !d.alive() {
		t.Fatal(fmt.Sprint("daemon died: ", d.err))
	}
}
