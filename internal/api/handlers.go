package api

import (
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// handlers holds what the routes need and the limits on long requests.
type handlers struct {
	backend    Backend
	kubeAPI    http.Handler
	kubeconfig func(role, server string) ([]byte, error)
	metrics    http.Handler
	logger     *zap.Logger

	// followers holds a token per log follow being served.
	followers    chan struct{}
	maxImport    int64
	readTimeout  time.Duration
	writeTimeout time.Duration
}

func newHandlers(o ServerOptions, logger *zap.Logger) *handlers {
	h := &handlers{backend: o.Backend, metrics: o.Metrics, logger: logger, kubeAPI: o.KubeAPI, kubeconfig: o.Kubeconfig,
		maxImport: o.MaxImageImportSize, readTimeout: o.ReadTimeout, writeTimeout: o.WriteTimeout}
	n := o.MaxLogFollowers
	if n <= 0 {
		n = DefaultMaxLogFollowers
	}
	h.followers = make(chan struct{}, n)
	if h.readTimeout <= 0 {
		h.readTimeout = defaultReadTimeout
	}
	if h.writeTimeout <= 0 {
		h.writeTimeout = defaultWriteTimeout
	}
	return h
}

// routes returns the API's handler: a request beyond its caller's role is
// a 403 Status (authorize); the read routes registered through route
// answer GET (and HEAD), while the image, kube and pprof routes register
// the methods they take themselves (POST, DELETE); any other method on a
// known path is a 405 Status, any other path a 404 Status, and a panicking
// handler becomes a 500 Status.
func (h *handlers) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(path string, fn http.HandlerFunc) {
		mux.HandleFunc("GET "+path, fn)
		// The method-less pattern is less specific, so it only gets the
		// methods the GET pattern does not match.
		mux.HandleFunc(path, methodNotAllowed)
	}
	route("/healthz", h.healthz)
	route("/pods", h.listPods)
	route("/pods/{namespace}/{name}", h.getPod)
	route("/containerLogs/{namespace}/{pod}/{container}", h.containerLogs)
	route("/events", h.events)
	route("/metrics", h.serveMetrics)
	h.imageRoutes(mux)
	h.kubeRoutes(mux)
	h.pprofRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "the server could not find the requested resource: %s", r.URL.Path)
	})
	return h.recoverer(cleanPaths(authorize(mux)))
}

// cleanPaths refuses paths with dot segments or doubled slashes instead of
// letting the mux redirect them to a cleaned path: no request can name one
// resource and mean another.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" || p[0] != '/' || path.Clean(p) != p && !(strings.HasSuffix(p, "/") && path.Clean(p)+"/" == p) {
			writeError(w, http.StatusBadRequest, "path %q is not clean (no '.', '..' or empty segments)", p)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)
}

func (h *handlers) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := h.backend.Healthy(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not healthy: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}

func (h *handlers) listPods(w http.ResponseWriter, _ *http.Request) {
	list := v1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		Items:    h.backend.ListPods(),
	}
	if list.Items == nil {
		list.Items = []v1.Pod{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handlers) getPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	pod, ok := h.backend.GetPod(ns, name)
	if !ok || pod == nil {
		st := newStatus(http.StatusNotFound, fmt.Sprintf("pods %q not found", name))
		st.Details = &metav1.StatusDetails{Name: name, Kind: "pods"}
		writeStatus(w, st)
		return
	}
	// A copy: the backend's pod may be shared.
	out := *pod
	out.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	writeJSON(w, http.StatusOK, &out)
}

func (h *handlers) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list := v1.EventList{
		TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"},
		Items:    h.backend.Events(q.Get("namespace"), q.Get("name")),
	}
	if list.Items == nil {
		list.Items = []v1.Event{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handlers) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if h.metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are not enabled")
		return
	}
	h.metrics.ServeHTTP(w, r)
}

// recoverer turns a handler panic into a 500 Status (when the response has
// not started) and an error log, so that one bad request never takes the
// daemon down. It also logs every request at debug level.
func (h *handlers) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &responseRecorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					// The documented way to abort a response: let net/http
					// close the connection quietly.
					panic(p)
				}
				h.logger.Error("handler panicked",
					zap.String("method", r.Method), zap.String("path", r.URL.Path),
					zap.Any("panic", p), zap.StackSkip("stack", 1))
				if !rec.wroteHeader {
					writeError(rec, http.StatusInternalServerError, "internal error while serving %s", r.URL.Path)
				}
			}
			h.logger.Debug("request",
				zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("code", rec.code), zap.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(rec, r)
	})
}

// responseRecorder remembers whether and with which code the response
// started. Flush and Unwrap keep streaming working through it.
type responseRecorder struct {
	http.ResponseWriter
	wroteHeader bool
	code        int
}

func (r *responseRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.wroteHeader, r.code = true, code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *responseRecorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.wroteHeader, r.code = true, http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Flush sends what is buffered to the client.
func (r *responseRecorder) Flush() {
	if !r.wroteHeader {
		r.wroteHeader, r.code = true, http.StatusOK
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *responseRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}
