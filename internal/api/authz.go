package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/kubeapi"
)

// role is what a caller may do (SPEC section 5). The order matters: a
// higher role has everything a lower one has.
type role int

// The roles. roleNone is anybody the socket is not for: such a peer is
// refused at connect, and a request that somehow carries no role is
// refused too, so nothing is ever anonymous.
const (
	roleNone role = iota
	roleView
	roleAdmin
)

func (r role) String() string {
	switch r {
	case roleView:
		return "view"
	case roleAdmin:
		return "admin"
	}
	return "none"
}

// roleOf is the socket's rule on top of its file mode: uid 0 and the
// daemon's own user are admin (the latter can signal or trace the daemon
// anyway), a member of the socket's group (primary or supplementary) is
// view, anybody else none. gid < 0 means no socket group. Checking the
// kernel's peer credentials means a socket file whose mode was loosened by
// mistake still gives nobody else anything.
func roleOf(p peer, selfUID uint32, gid int) role {
	if p.uid == 0 || p.uid == selfUID {
		return roleAdmin
	}
	if gid < 0 {
		return roleNone
	}
	if p.gid == uint32(gid) {
		return roleView
	}
	for _, g := range p.groups {
		if g == uint32(gid) {
			return roleView
		}
	}
	return roleNone
}

// access is what one request needs: the least role, and the Kubernetes
// verb and resource the Forbidden message names.
type access struct {
	verb, resource string
	need           role
}

// viewReads are the paths view may GET (and HEAD): an exact path, or a
// prefix when it ends in "/". Everything else (every other method, and a
// GET of any path not listed, such as /debug/pprof/) needs admin: a route
// added later is admin only until it is listed here.
var viewReads = []struct{ path, resource, verb string }{
	{"/healthz", "healthz", "get"},
	{"/pods", "pods", "list"},
	{"/pods/", "pods", "get"},
	{"/containerLogs/", "pods/log", "get"},
	{"/events", "events", "list"},
	{"/metrics", "metrics", "get"},
	{"/images", "images", "list"},
	// The Kubernetes API: its routes answer GET only for reads (a write
	// needs admin here, and then gets kubeapi's 405).
	{"/api", "api", "get"},
	{"/api/", "api", "get"},
	{"/apis", "apis", "get"},
	{"/apis/", "apis", "get"},
	{"/version", "version", "get"},
}

// accessFor is the one place that decides who may do what on the socket.
func accessFor(method, path string) access {
	if method == http.MethodGet || method == http.MethodHead {
		for _, v := range viewReads {
			if path == v.path || strings.HasSuffix(v.path, "/") && strings.HasPrefix(path, v.path) {
				return access{verb: v.verb, resource: v.resource, need: roleView}
			}
		}
	}
	return access{verb: kubeapi.VerbOf(method), resource: resourceOf(path), need: roleAdmin}
}

// resourceOf names what a path is about, for the Forbidden message.
func resourceOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/debug/pprof"):
		return "profiles"
	case path == "/images" || strings.HasPrefix(path, "/images/"):
		return "images"
	case path == "/kubeconfig":
		return "kubeconfigs"
	}
	return path
}

// forbidden returns the 403 Status for a caller whose role is short of
// what a asks, or nil when it may go ahead.
func forbidden(p peer, r role, a access) *metav1.Status {
	if r >= a.need {
		return nil
	}
	st := newStatus(http.StatusForbidden, fmt.Sprintf(
		"%s is forbidden: uid %d has role %s, which cannot %s %s; that needs role %s (uid 0)",
		a.resource, p.uid, r, a.verb, a.resource, a.need))
	st.Details = &metav1.StatusDetails{Kind: a.resource}
	return &st
}

// callerKey carries the caller of a request (set per connection).
type callerKey struct{}

// caller is who sent a request and the role the socket gave them.
type caller struct {
	peer peer
	role role
}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerOf returns the request's caller; a request that did not come
// through the socket's listener has role none.
func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// authorize refuses every request beyond its caller's role with a 403
// Status, before any handler runs.
func authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r.Context())
		if st := forbidden(c.peer, c.role, accessFor(r.Method, r.URL.Path)); st != nil {
			writeStatus(w, *st)
			return
		}
		next.ServeHTTP(w, r)
	})
}
