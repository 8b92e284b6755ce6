package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/minikubelet/minikubelet/internal/containerlog"
)

// logQuery is the parsed query of GET /containerLogs.
type logQuery struct {
	opts     containerlog.ReadOptions
	previous bool
}

// parseLogQuery reads the kubelet's containerLogs parameters: follow,
// previous, timestamps (booleans; present without a value means true),
// tailLines (≥ 0), limitBytes (≥ 1), sinceSeconds (≥ 1) and sinceTime
// (RFC 3339), the last two exclusive. Unknown parameters are ignored, as
// the API server does.
func parseLogQuery(q url.Values, now time.Time) (logQuery, error) {
	var lq logQuery
	var err error
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"follow", &lq.opts.Follow},
		{"previous", &lq.previous},
		{"timestamps", &lq.opts.Timestamps},
	} {
		if *b.dst, err = boolParam(q, b.name); err != nil {
			return lq, err
		}
	}
	if lq.opts.TailLines, err = intParam(q, "tailLines", 0); err != nil {
		return lq, err
	}
	if lq.opts.LimitBytes, err = intParam(q, "limitBytes", 1); err != nil {
		return lq, err
	}
	sinceSeconds, err := intParam(q, "sinceSeconds", 1)
	if err != nil {
		return lq, err
	}
	if q.Has("sinceTime") {
		if sinceSeconds != nil {
			return lq, errors.New(`query parameters "sinceTime" and "sinceSeconds" cannot both be set`)
		}
		v := q.Get("sinceTime")
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return lq, fmt.Errorf("invalid value %q for query parameter \"sinceTime\": must be an RFC 3339 time", v)
		}
		lq.opts.SinceTime = &t
	}
	if sinceSeconds != nil {
		t := now.Add(-time.Duration(*sinceSeconds) * time.Second)
		lq.opts.SinceTime = &t
	}
	return lq, nil
}

func boolParam(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	v := q.Get(name)
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid value %q for query parameter %q: must be true or false", v, name)
	}
	return b, nil
}

func intParam(q url.Values, name string, minimum int64) (*int64, error) {
	if !q.Has(name) {
		return nil, nil
	}
	v := q.Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < minimum {
		return nil, fmt.Errorf("invalid value %q for query parameter %q: must be an integer ≥ %d", v, name, minimum)
	}
	return &n, nil
}

// containerLogs serves GET /containerLogs/{namespace}/{pod}/{container}.
// With follow the response is flushed line by line and lasts until the
// container exits, the client goes away or the server shuts down.
func (h *handlers) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	lq, err := parseLogQuery(r.URL.Query(), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	path, exited, err := h.backend.ContainerLog(ns, pod, ctr, lq.previous)
	if err != nil {
		code := codeForError(err)
		if code == http.StatusInternalServerError {
			h.logger.Warn("container log lookup failed", zap.String("namespace", ns),
				zap.String("pod", pod), zap.String("container", ctr), zap.Error(err))
		}
		writeError(w, code, "%v", err)
		return
	}
	// Checked before answering 200: once a stream starts, an error can
	// only end it.
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			writeError(w, http.StatusNotFound, "log of container %q in pod %q not found", ctr, pod)
			return
		}
		writeError(w, http.StatusInternalServerError, "container log: %v", err)
		return
	}

	if lq.opts.Follow {
		// A token per follow: past the cap, a clear 429 instead of
		// another open file polled every 100 ms.
		select {
		case h.followers <- struct{}{}:
			defer func() { <-h.followers }()
		default:
			writeError(w, http.StatusTooManyRequests, "too many log follows at once (%d): try again when one ends, or read without follow", cap(h.followers))
			return
		}
	}

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return // a HEAD with follow would otherwise stream to nowhere
	}
	// Every write gets a deadline: a client that stops reading is cut
	// off instead of pinning its goroutine, buffers and the log file.
	out := &deadlineWriter{w: w, rc: http.NewResponseController(w), timeout: h.writeTimeout}
	if lq.opts.Follow {
		// Headers go out now so the client knows the stream is open.
		if err := out.Flush(); err != nil {
			return
		}
	}
	err = containerlog.Read(r.Context(), path, lq.opts, out, exited)
	if err != nil && !errors.Is(err, context.Canceled) {
		h.logger.Debug("container log stream ended", zap.String("namespace", ns),
			zap.String("pod", pod), zap.String("container", ctr), zap.Error(err))
	}
}

// deadlineWriter sets a write deadline before each write and flush of a
// streamed response, and gives containerlog.Read a Flush to call whenever
// it has caught up with the file, so followed lines reach the client at
// once.
type deadlineWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.renew(); err != nil {
		return 0, err
	}
	return d.w.Write(p)
}

// Flush sends the buffered response to the client.
func (d *deadlineWriter) Flush() error {
	if err := d.renew(); err != nil {
		return err
	}
	return d.rc.Flush()
}

// renew sets the next write deadline; a writer with no connection (tests)
// has none.
func (d *deadlineWriter) renew() error {
	err := d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}
