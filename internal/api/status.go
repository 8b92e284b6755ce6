package api

import (
	"errors"
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/kubeapi"
)

// ErrNotFound marks a pod, container or previous attempt that does not
// exist. Backends wrap it with %w; the server answers 404, and the client
// returns errors for which errors.Is(err, ErrNotFound) holds on a 404.
var ErrNotFound = errors.New("not found")

// ErrBadRequest marks a request that cannot be answered as asked, such as
// the logs of a container that has not started yet. Backends wrap it with
// %w; the server answers 400.
var ErrBadRequest = errors.New("bad request")

// ErrTooLarge marks a request body (or what it unpacks to) over a limit;
// the server answers 413.
var ErrTooLarge = errors.New("too large")

// ErrBusy marks a request refused because as many of its kind as allowed
// are running already (an image import, log followers); the server
// answers 429 and the client may try again later.
var ErrBusy = errors.New("busy")

// StatusError is a Status the server answered with, as the client returns
// it. errors.Is(err, ErrNotFound) holds for a 404.
type StatusError struct {
	Status metav1.Status
}

// Error returns the server's message.
func (e *StatusError) Error() string {
	if e.Status.Message != "" {
		return e.Status.Message
	}
	return fmt.Sprintf("%s (%d)", e.Status.Reason, e.Status.Code)
}

// Is reports whether target is ErrNotFound (for a 404) or ErrBadRequest
// (for a 400).
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status.Code == http.StatusNotFound
	case ErrBadRequest:
		return e.Status.Code == http.StatusBadRequest
	}
	return false
}

// newStatus builds a Failure Status in the shape the Kubernetes API uses.
func newStatus(code int, msg string) metav1.Status { return kubeapi.NewStatus(code, msg) }

// writeStatus answers with a Failure Status.
func writeStatus(w http.ResponseWriter, st metav1.Status) {
	writeJSON(w, int(st.Code), st)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeStatus(w, newStatus(code, fmt.Sprintf(format, args...)))
}

// codeForError maps a backend error to an HTTP status code.
func codeForError(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBusy):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) { kubeapi.WriteJSON(w, code, v) }
