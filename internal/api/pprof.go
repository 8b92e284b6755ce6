package api

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves the Go runtime's profiles under /debug/pprof/, as the
// kubelet does on its own server (enableProfilingHandler): heap, goroutine,
// allocs, block, mutex and threadcreate by name, a CPU profile
// (/debug/pprof/profile?seconds=N) and an execution trace. The socket is
// already limited to root and the configured group, so profiles need no
// switch of their own, and a profile costs nothing until it is asked for.
//
//	curl --unix-socket /run/minikubelet/minikubelet.sock \
//	    -o cpu.pprof 'http://localhost/debug/pprof/profile?seconds=30'
//	go tool pprof -top cpu.pprof
func pprofRoutes(mux *http.ServeMux) {
	// Index also serves the named profiles: /debug/pprof/heap and so on.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/", methodNotAllowed)
}
