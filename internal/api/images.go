package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// ErrConflict marks a request that would break something in use, such as
// removing an image a pod runs; the server answers 409.
var ErrConflict = errors.New("conflict")

// Image is one local image as the images routes show it.
type Image struct {
	Ref  string `json:"ref"`
	ID   string `json:"id"`
	Size int64  `json:"size"`
	// InUse lists the pods (namespace/name) whose containers use it; the
	// sandbox image says "sandbox".
	InUse []string `json:"inUse,omitempty"`
}

// ImageList is the answer of GET /images and POST /images.
type ImageList struct {
	Kind  string  `json:"kind"`
	Items []Image `json:"items"`
}

// ImageBackend is what the images routes need; a Backend that implements
// it gets them.
type ImageBackend interface {
	ListImages(ctx context.Context) ([]Image, error)
	// ImportImages imports an image archive (OCI or docker save, maybe
	// gzip'd or zstd'd) and returns what it held. Errors wrap ErrBusy
	// (another import runs), ErrTooLarge (over the size cap), ErrConflict
	// (a name in use would move) or ErrBadRequest (a bad archive).
	ImportImages(ctx context.Context, r io.Reader) ([]Image, error)
	// RemoveImage removes an image; ErrConflict while in use, ErrNotFound
	// when unknown.
	RemoveImage(ctx context.Context, ref string) error
}

// imageImportTimeout bounds one import, however large.
const imageImportTimeout = 30 * time.Minute

func (h *handlers) imageRoutes(mux *http.ServeMux) {
	ib, ok := h.backend.(ImageBackend)
	if !ok {
		return
	}
	mux.HandleFunc("GET /images", func(w http.ResponseWriter, r *http.Request) {
		imgs, err := ib.ListImages(r.Context())
		if err != nil {
			writeError(w, codeForError(err), "list images: %v", err)
			return
		}
		writeJSON(w, http.StatusOK, ImageList{Kind: "ImageList", Items: imgs})
	})
	mux.HandleFunc("POST /images", func(w http.ResponseWriter, r *http.Request) {
		if h.maxImport > 0 && r.ContentLength > h.maxImport {
			// Closed after the answer: net/http would otherwise read
			// (up to 256 KiB of) the refused body before answering.
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "import image archive: %d bytes is over the limit of %d bytes (max-image-import-size)", r.ContentLength, h.maxImport)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), imageImportTimeout)
		defer cancel()
		// The context does not interrupt a read of the body: the read
		// deadline does, so a client that stalls is cut off (and the
		// import's lease and slot let go) within readTimeout.
		body := &deadlineReader{r: r.Body, rc: http.NewResponseController(w), timeout: h.readTimeout}
		imgs, err := ib.ImportImages(ctx, body)
		if err != nil {
			code := codeForError(err)
			if code == http.StatusInternalServerError {
				code = http.StatusBadRequest // most likely the archive
			}
			// The rest of the body is not wanted, nor waited for.
			w.Header().Set("Connection", "close")
			if body.timedOut {
				code = http.StatusRequestTimeout
				err = fmt.Errorf("no data from the client for %s: %w", h.readTimeout, err)
			}
			writeError(w, code, "import image archive: %v", err)
			return
		}
		writeJSON(w, http.StatusOK, ImageList{Kind: "ImageList", Items: imgs})
	})
	mux.HandleFunc("DELETE /images/{ref...}", func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		if err := ib.RemoveImage(r.Context(), ref); err != nil {
			writeError(w, codeForError(err), "remove image %s: %v", ref, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/images", methodNotAllowed)
	mux.HandleFunc("/images/{ref...}", methodNotAllowed)
}

// deadlineReader renews the connection's read deadline before each read of
// a request body, so the body may take as long as it needs as long as it
// keeps coming.
type deadlineReader struct {
	r        io.Reader
	rc       *http.ResponseController
	timeout  time.Duration
	timedOut bool
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	// ErrNotSupported: a writer with no connection (tests); no deadline.
	if err := d.rc.SetReadDeadline(time.Now().Add(d.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	n, err := d.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		d.timedOut = true
	}
	return n, err
}

// ListImages returns the daemon's images.
func (c *Client) ListImages(ctx context.Context) (*ImageList, error) {
	var list ImageList
	if err := c.getJSON(ctx, "/images", nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// ImportImages sends an image archive to the daemon.
func (c *Client) ImportImages(ctx context.Context, archive io.Reader) (*ImageList, error) {
	resp, err := c.do(ctx, http.MethodPost, "/images", nil, archive)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list ImageList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("decode response of POST /images: %w", err)
	}
	return &list, nil
}

// RemoveImage asks the daemon to remove an image.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	resp, err := c.do(ctx, http.MethodDelete, "/images/"+url.PathEscape(ref), nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
