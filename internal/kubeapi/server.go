package kubeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
)

// Backend is what the API needs from the daemon.
type Backend interface {
	// ListPods returns every pod the daemon knows, with full status.
	ListPods() []v1.Pod
	// GetPod returns one pod, or false when it is unknown.
	GetPod(namespace, name string) (*v1.Pod, bool)
	// Events returns the events involving namespace/name; "" matches any.
	Events(namespace, name string) []v1.Event
	// ManifestFile returns the file a pod came from, or "" when unknown.
	ManifestFile(namespace, name string) string
}

// Options configure New.
type Options struct {
	Backend Backend
	// ManifestDir is named in the refusal of a pod create.
	ManifestDir string
	// Started is the daemon's start, the creation time of namespaces
	// that hold no pod.
	Started time.Time
	Clock   clock.PassiveClock
}

// API serves the Kubernetes API subset. Handler has no authorization of
// its own: the socket's server authorizes in front of it, and the TLS
// listener wraps it in RequireClientRole.
type API struct {
	o Options
}

// New returns the API.
func New(o Options) *API {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &API{o: o}
}

// Handler returns the routes under /api, /apis and /version.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	get := func(p string, fn http.HandlerFunc) {
		mux.HandleFunc("GET "+p, fn)
	}
	get("/version", a.version)
	get("/api", a.apiVersions)
	get("/apis", a.apiGroups)
	get("/api/v1", a.resources)
	get("/api/v1/pods", a.listPods)
	get("/api/v1/namespaces/{namespace}/pods", a.listPods)
	get("/api/v1/namespaces/{namespace}/pods/{name}", a.getPod)
	get("/api/v1/namespaces", a.listNamespaces)
	get("/api/v1/namespaces/{name}", a.getNamespace)
	get("/api/v1/events", a.listEvents)
	get("/api/v1/namespaces/{namespace}/events", a.listEvents)
	mux.HandleFunc("/api/v1/namespaces/{namespace}/pods", a.refuseCreate)
	mux.HandleFunc("/api/v1/namespaces/{namespace}/pods/{name}", a.refuseWrite)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeStatus(w, http.StatusMethodNotAllowed, "", "", "%s is not supported on %s: this node serves a read-only Kubernetes API", r.Method, r.URL.Path)
			return
		}
		writeStatus(w, http.StatusNotFound, "", "", "the server could not find the requested resource (%s)", r.URL.Path)
	})
	return mux
}

// refuseCreate answers a pod create: pods come from manifest files.
func (a *API) refuseCreate(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		a.listPods(w, r)
		return
	}
	writeStatus(w, http.StatusMethodNotAllowed, "pods", "",
		"pods on this node are created from manifest files: add a file to %s instead of %s", a.o.ManifestDir, VerbOf(r.Method))
}

// refuseWrite answers an update, patch or delete of a pod with the file
// to edit or remove. The pod is untouched.
func (a *API) refuseWrite(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	file := a.o.Backend.ManifestFile(ns, name)
	if file == "" {
		writeStatus(w, http.StatusNotFound, "pods", name, "pods %q not found", name)
		return
	}
	action := "edit"
	if r.Method == http.MethodDelete {
		action = "remove"
	}
	writeStatus(w, http.StatusMethodNotAllowed, "pods", name,
		"pod %s/%s comes from the manifest file %s and cannot be %s through the API: %s that file instead",
		ns, name, file, pastOf(r.Method), action)
}

func pastOf(method string) string {
	switch method {
	case http.MethodDelete:
		return "deleted"
	case http.MethodPatch:
		return "patched"
	case http.MethodPut:
		return "updated"
	}
	return "changed"
}

// VerbOf names an HTTP method as the Kubernetes API's verbs do.
func VerbOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}

// listOptions are the label and field selectors of a list.
type listOptions struct {
	labels labels.Selector
	fields fields.Selector
}

func parseListOptions(w http.ResponseWriter, r *http.Request) (listOptions, bool) {
	q := r.URL.Query()
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "", "", "labelSelector %q: %v", q.Get("labelSelector"), err)
		return listOptions{}, false
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "", "", "fieldSelector %q: %v", q.Get("fieldSelector"), err)
		return listOptions{}, false
	}
	return listOptions{labels: ls, fields: fs}, true
}

// selectItems parses the request's selectors (a field outside the ones
// fieldsOf knows is a 400, as the API server does) and returns the items
// both match, never nil; false when it has answered with an error.
func selectItems[T any](w http.ResponseWriter, r *http.Request, resource string, items []T,
	labelsOf func(*T) map[string]string, fieldsOf func(*T) fields.Set) ([]T, bool) {
	opts, ok := parseListOptions(w, r)
	if !ok {
		return nil, false
	}
	var zero T
	if !checkFields(w, resource, opts.fields, fieldsOf(&zero)) {
		return nil, false
	}
	out := make([]T, 0, len(items))
	for i := range items {
		if opts.labels.Matches(labels.Set(labelsOf(&items[i]))) && opts.fields.Matches(fieldsOf(&items[i])) {
			out = append(out, items[i])
		}
	}
	return out, true
}

// checkFields refuses a field selector naming a field outside known, as
// the API server does.
func checkFields(w http.ResponseWriter, resource string, fs fields.Selector, known fields.Set) bool {
	for _, req := range fs.Requirements() {
		if _, ok := known[req.Field]; !ok {
			writeStatus(w, http.StatusBadRequest, "", "", "%q is not a known field selector for %s: only %s", req.Field, resource, strings.Join(sortedKeys(known), ", "))
			return false
		}
	}
	return true
}

func sortedKeys(s fields.Set) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func podFields(p *v1.Pod) fields.Set {
	return fields.Set{
		"metadata.name":      p.Name,
		"metadata.namespace": p.Namespace,
		"spec.nodeName":      p.Spec.NodeName,
		"spec.restartPolicy": string(p.Spec.RestartPolicy),
		"status.phase":       string(p.Status.Phase),
		"status.podIP":       p.Status.PodIP,
	}
}

func eventFields(e *v1.Event) fields.Set {
	return fields.Set{
		"metadata.name":                  e.Name,
		"metadata.namespace":             e.Namespace,
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         e.Source.Component,
		"type":                           e.Type,
	}
}

func (a *API) pods(ns string) []v1.Pod {
	all := a.o.Backend.ListPods()
	out := make([]v1.Pod, 0, len(all))
	for _, p := range all {
		if ns == "" || p.Namespace == ns {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (a *API) listPods(w http.ResponseWriter, r *http.Request) {
	items, ok := selectItems(w, r, "pods", a.pods(r.PathValue("namespace")),
		func(p *v1.Pod) map[string]string { return p.Labels }, podFields)
	if !ok {
		return
	}
	for i := range items {
		items[i].TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	}
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, podTable(items, a.o.Clock.Now()))
		return
	}
	writeJSON(w, http.StatusOK, v1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: listVersion(items)},
		Items:    items,
	})
}

func (a *API) getPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	p, ok := a.o.Backend.GetPod(ns, name)
	if !ok || p == nil {
		writeStatus(w, http.StatusNotFound, "pods", name, "pods %q not found", name)
		return
	}
	out := *p
	out.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, podTable([]v1.Pod{out}, a.o.Clock.Now()))
		return
	}
	writeJSON(w, http.StatusOK, &out)
}

// listVersion is a list's resourceVersion: the highest of its items.
func listVersion(pods []v1.Pod) string {
	best, bestN := "0", 0
	for _, p := range pods {
		var n int
		if _, err := fmt.Sscan(p.ResourceVersion, &n); err == nil && n > bestN {
			best, bestN = p.ResourceVersion, n
		}
	}
	return best
}

// namespaces are those that hold pods, and default; each was created at
// its oldest pod's creation (default without pods: the daemon's start).
func (a *API) namespaces() []v1.Namespace {
	created := map[string]time.Time{"default": a.o.Started}
	for _, p := range a.o.Backend.ListPods() {
		t, ok := created[p.Namespace]
		if c := p.CreationTimestamp.Time; !ok || !c.IsZero() && c.Before(t) {
			created[p.Namespace] = c
		}
	}
	out := make([]v1.Namespace, 0, len(created))
	for name, t := range created {
		out = append(out, v1.Namespace{
			TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t),
				Labels: map[string]string{"kubernetes.io/metadata.name": name}},
			Status: v1.NamespaceStatus{Phase: v1.NamespaceActive},
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (a *API) listNamespaces(w http.ResponseWriter, r *http.Request) {
	items, ok := selectItems(w, r, "namespaces", a.namespaces(),
		func(n *v1.Namespace) map[string]string { return n.Labels },
		func(n *v1.Namespace) fields.Set {
			return fields.Set{"metadata.name": n.Name, "status.phase": string(n.Status.Phase)}
		})
	if !ok {
		return
	}
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, namespaceTable(items, a.o.Clock.Now()))
		return
	}
	writeJSON(w, http.StatusOK, v1.NamespaceList{
		TypeMeta: metav1.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: "0"},
		Items:    items,
	})
}

func (a *API) getNamespace(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, n := range a.namespaces() {
		if n.Name == name {
			if wantsTable(r) {
				writeJSON(w, http.StatusOK, namespaceTable([]v1.Namespace{n}, a.o.Clock.Now()))
				return
			}
			writeJSON(w, http.StatusOK, &n)
			return
		}
	}
	writeStatus(w, http.StatusNotFound, "namespaces", name, "namespaces %q not found", name)
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("namespace")
	var all []v1.Event
	for _, e := range a.o.Backend.Events("", "") {
		if ns == "" || e.Namespace == ns {
			e.TypeMeta = metav1.TypeMeta{Kind: "Event", APIVersion: "v1"}
			all = append(all, e)
		}
	}
	items, ok := selectItems(w, r, "events", all,
		func(e *v1.Event) map[string]string { return e.Labels }, eventFields)
	if !ok {
		return
	}
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, eventTable(items, a.o.Clock.Now()))
		return
	}
	writeJSON(w, http.StatusOK, v1.EventList{
		TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: "0"},
		Items:    items,
	})
}

// writeStatus answers with a Failure Status in the API server's shape.
func writeStatus(w http.ResponseWriter, code int, kind, name, format string, args ...any) {
	st := NewStatus(code, fmt.Sprintf(format, args...))
	if kind != "" {
		st.Details = &metav1.StatusDetails{Kind: kind, Name: name}
	}
	WriteJSON(w, code, st)
}

// NewStatus builds a Failure Status in the shape the Kubernetes API
// uses; the socket's own routes answer with the same.
func NewStatus(code int, msg string) metav1.Status {
	return metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  msg,
		Reason:   ReasonFor(code),
		Code:     int32(code),
	}
}

// ReasonFor is the Status reason the API server gives an HTTP code.
func ReasonFor(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	case http.StatusRequestTimeout:
		return metav1.StatusReasonTimeout
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusRequestEntityTooLarge:
		return metav1.StatusReasonRequestEntityTooLarge
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	case http.StatusInternalServerError:
		return metav1.StatusReasonInternalError
	}
	return metav1.StatusReasonUnknown
}

func writeJSON(w http.ResponseWriter, code int, v any) { WriteJSON(w, code, v) }

// WriteJSON answers with v as JSON, one line.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	writeJSONAs(w, code, "application/json", v)
}

func writeJSONAs(w http.ResponseWriter, code int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a type without a JSON form gets here: a bug, reported as one.
		code = http.StatusInternalServerError
		body, _ = json.Marshal(NewStatus(code, "encode response: "+err.Error()))
		contentType = "application/json"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
