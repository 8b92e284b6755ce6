package api

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// maxProfileSeconds caps the seconds parameter of a CPU profile, an
// execution trace or a delta profile: a longer one is a 400 Status.
const maxProfileSeconds = 60

// pprofRoutes serves the Go runtime's profiles under /debug/pprof/, as the
// kubelet does on its own server (enableProfilingHandler): heap, goroutine,
// allocs, block, mutex and threadcreate by name, a CPU profile
// (/debug/pprof/profile?seconds=N) and an execution trace. They are for
// the admin role only (authorize), seconds is at most maxProfileSeconds,
// and each write has a deadline: a trace to a client that stops reading
// would otherwise block the tracer and grow its buffers without bound.
//
//	curl --unix-socket /run/minikubelet/minikubelet.sock \
//	    -o cpu.pprof 'http://localhost/debug/pprof/profile?seconds=30'
//	go tool pprof -top cpu.pprof
func (h *handlers) pprofRoutes(mux *http.ServeMux) {
	// Index also serves the named profiles: /debug/pprof/heap and so on.
	mux.HandleFunc("GET /debug/pprof/", h.profile(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", h.profile(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", h.profile(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", h.profile(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", h.profile(pprof.Trace))
	mux.HandleFunc("/debug/pprof/", methodNotAllowed)
}

// profile checks seconds and gives the response a write deadline: the
// profile's own duration plus the server's write timeout.
func (h *handlers) profile(serve http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Without seconds a profile takes its own default (30 s for a CPU
		// profile), never more than the cap.
		secs := maxProfileSeconds
		if v := r.URL.Query().Get("seconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxProfileSeconds {
				writeError(w, http.StatusBadRequest, "invalid value %q for query parameter \"seconds\": must be an integer from 0 to %d", v, maxProfileSeconds)
				return
			}
			secs = n
		}
		// The profile handlers write with the deadline already set: they
		// do not set one themselves (they look at Server.WriteTimeout,
		// which is 0 here because log follows are long).
		deadline := time.Now().Add(time.Duration(secs)*time.Second + h.writeTimeout)
		if err := http.NewResponseController(w).SetWriteDeadline(deadline); err != nil {
			h.logger.Debug("set write deadline of a profile", zap.Error(err))
		}
		serve(w, r)
	}
}
