package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRoleOf(t *testing.T) {
	tests := []struct {
		name string
		p    peer
		gid  int
		want role
	}{
		{"root", peer{uid: 0, gid: 0}, -1, roleAdmin},
		{"root in the socket group", peer{uid: 0, gid: 50}, 50, roleAdmin},
		{"the daemon's own user", peer{uid: 1000, gid: 1000}, -1, roleAdmin},
		{"stranger, root-only socket", peer{uid: 1001, gid: 1001}, -1, roleNone},
		{"stranger, gid 0 socket", peer{uid: 1001, gid: 1001}, 0, roleNone},
		{"primary group", peer{uid: 1001, gid: 50}, 50, roleView},
		{"supplementary group", peer{uid: 1001, gid: 1001, groups: []uint32{10, 50}}, 50, roleView},
		{"other groups", peer{uid: 1001, gid: 1001, groups: []uint32{10}}, 50, roleNone},
	}
	for _, tt := range tests {
		if got := roleOf(tt.p, 1000, tt.gid); got != tt.want {
			t.Errorf("%s: role %s, want %s", tt.name, got, tt.want)
		}
	}
}

// fakeImages is a backend with the image routes; imports read the body.
type fakeImages struct {
	fakeBackend
	mu       sync.Mutex
	imported []string
	removed  []string
	// importErr, when set, is what an import returns after reading.
	importErr error
}

func (b *fakeImages) ListImages(context.Context) ([]Image, error) {
	return []Image{{Ref: "docker.io/library/busybox:1", ID: "docker.io/library/busybox@sha256:a"}}, nil
}

func (b *fakeImages) ImportImages(_ context.Context, r io.Reader) ([]Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.imported = append(b.imported, string(data))
	if b.importErr != nil {
		return nil, b.importErr
	}
	return []Image{{Ref: "localhost/x:1"}}, nil
}

func (b *fakeImages) RemoveImage(_ context.Context, ref string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removed = append(b.removed, ref)
	return nil
}

// TestAuthorize serves each route as each role would call it: what the
// role may do reaches its handler, anything beyond it is a 403 Status
// naming the verb and the resource, and never reaches the backend.
func TestAuthorize(t *testing.T) {
	path, _ := newLog(t, "one")
	view := caller{peer: peer{uid: 65534, gid: 50}, role: roleView}
	admin := caller{peer: peer{uid: 0}, role: roleAdmin}
	nobody := caller{peer: peer{uid: 4242}, role: roleNone}
	tests := []struct {
		who          caller
		method, path string
		code         int
		msg          string // in the Forbidden message
	}{
		{view, "GET", "/healthz", 200, ""},
		{view, "GET", "/pods", 200, ""},
		{view, "HEAD", "/pods", 200, ""},
		{view, "GET", "/pods/default/nginx", 200, ""},
		{view, "GET", "/events", 200, ""},
		{view, "GET", "/containerLogs/default/nginx/web", 200, ""},
		{view, "GET", "/images", 200, ""},
		{view, "GET", "/metrics", 404, ""}, // reached: no metrics in this test
		{view, "POST", "/images", 403, "uid 65534 has role view, which cannot create images; that needs role admin"},
		{view, "DELETE", "/images/docker.io/library/busybox:1", 403, "cannot delete images"},
		{view, "GET", "/debug/pprof/", 403, "cannot get profiles"},
		{view, "GET", "/debug/pprof/heap", 403, "cannot get profiles"},
		{view, "GET", "/debug/pprof/profile", 403, "cannot get profiles"},
		{view, "GET", "/debug/pprof/trace", 403, "cannot get profiles"},
		{view, "POST", "/pods", 403, "cannot create /pods"},
		{view, "GET", "/nope", 403, "cannot get /nope"},
		{admin, "POST", "/images", 200, ""},
		{admin, "DELETE", "/images/docker.io/library/busybox:1", 204, ""},
		{admin, "GET", "/debug/pprof/cmdline", 200, ""},
		{admin, "POST", "/pods", 405, ""},
		{admin, "GET", "/nope", 404, ""},
		{nobody, "GET", "/pods", 403, "uid 4242 has role none, which cannot list pods"},
		{caller{}, "GET", "/healthz", 403, "role none"},
	}
	for _, tt := range tests {
		t.Run(tt.who.role.String()+" "+tt.method+" "+tt.path, func(t *testing.T) {
			b := &fakeImages{fakeBackend: fakeBackend{pods: testPods(), logPath: path}}
			h := newHandlers(ServerOptions{Backend: b}, zaptest.NewLogger(t)).routes()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("archive"))
			if tt.who.role != roleNone || tt.who.peer.uid != 0 {
				req = req.WithContext(withCaller(req.Context(), tt.who))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			resp := rec.Result()
			body, _ := io.ReadAll(resp.Body)
			if tt.code == http.StatusForbidden {
				wantStatus(t, resp, string(body), tt.code, metav1.StatusReasonForbidden, tt.msg)
				if len(b.imported)+len(b.removed)+len(b.logAsked) != 0 {
					t.Errorf("a forbidden request reached the backend: imported %q removed %q logs %q", b.imported, b.removed, b.logAsked)
				}
				return
			}
			if resp.StatusCode != tt.code {
				t.Errorf("HTTP %d, want %d: %s", resp.StatusCode, tt.code, body)
			}
		})
	}
}

func TestAccessFor(t *testing.T) {
	tests := []struct {
		method, path string
		want         access
	}{
		{"GET", "/pods", access{"list", "pods", roleView}},
		{"GET", "/pods/ns/name", access{"get", "pods", roleView}},
		{"GET", "/containerLogs/ns/p/c", access{"get", "pods/log", roleView}},
		{"GET", "/events", access{"list", "events", roleView}},
		{"GET", "/images", access{"list", "images", roleView}},
		{"POST", "/images", access{"create", "images", roleAdmin}},
		{"DELETE", "/images/x", access{"delete", "images", roleAdmin}},
		{"GET", "/images/x", access{"get", "images", roleAdmin}},
		{"GET", "/debug/pprof/heap", access{"get", "profiles", roleAdmin}},
		{"GET", "/healthzz", access{"get", "/healthzz", roleAdmin}},
		{"GET", "/podsx", access{"get", "/podsx", roleAdmin}},
		{"PATCH", "/pods/ns/name", access{"patch", "/pods/ns/name", roleAdmin}},
	}
	for _, tt := range tests {
		if got := accessFor(tt.method, tt.path); got != tt.want {
			t.Errorf("%s %s: %+v, want %+v", tt.method, tt.path, got, tt.want)
		}
	}
}
