package api

import (
	"net/http"
)

// kubeRoutes mounts the Kubernetes API subset and the kubeconfig issuer.
// Both sit behind authorize like every route: the API's reads are view,
// everything else (writes, POST /kubeconfig) admin.
func (h *handlers) kubeRoutes(mux *http.ServeMux) {
	if h.kubeAPI != nil {
		for _, p := range []string{"/api", "/api/", "/apis", "/apis/", "/version"} {
			mux.Handle(p, h.kubeAPI)
		}
	}
	mux.HandleFunc("POST /kubeconfig", h.issueKubeconfig)
	mux.HandleFunc("/kubeconfig", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)
	})
}

// issueKubeconfig answers POST /kubeconfig?role=admin|view&server=URL
// with a kubeconfig (YAML) holding a new client certificate.
func (h *handlers) issueKubeconfig(w http.ResponseWriter, r *http.Request) {
	if h.kubeconfig == nil {
		writeError(w, http.StatusNotFound, "the Kubernetes API is disabled (kube-api-address is empty)")
		return
	}
	q := r.URL.Query()
	role := q.Get("role")
	if role == "" {
		role = "admin"
	}
	if role != "admin" && role != "view" {
		writeError(w, http.StatusBadRequest, "role %q: must be admin or view", role)
		return
	}
	out, err := h.kubeconfig(role, q.Get("server"))
	if err != nil {
		writeError(w, codeForError(err), "issue kubeconfig: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(out)
}
