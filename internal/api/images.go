package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	// gzip'd or zstd'd) and returns what it held.
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
		ctx, cancel := context.WithTimeout(r.Context(), imageImportTimeout)
		defer cancel()
		imgs, err := ib.ImportImages(ctx, r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "import image archive: %v", err)
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
