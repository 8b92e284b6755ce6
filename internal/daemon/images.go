package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
	"github.com/minikubelet/minikubelet/internal/imagedir"
	"github.com/minikubelet/minikubelet/internal/runtime"
)

var _ api.ImageBackend = (*backend)(nil)

// users maps each image (full reference) to what uses it: the pods whose
// containers run it, and the sandbox.
func (b *backend) users() map[string][]string {
	out := map[string][]string{}
	if ref, err := runtime.NormalizeImageRef(b.sandboxImage); err == nil {
		out[ref] = append(out[ref], "sandbox")
	}
	// The manager's pods, not the store's: a pod is in the manager before
	// its first status is reported, and its image must be safe by then.
	var pods []*v1.Pod
	if _, _, pm := b.parts(); pm != nil {
		pods = pm.Pods()
	} else {
		for _, p := range b.store.ListPods() {
			pods = append(pods, p.DeepCopy())
		}
	}
	for _, p := range pods {
		seen := map[string]bool{}
		for _, c := range append(append([]v1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			ref, err := runtime.NormalizeImageRef(c.Image)
			if err != nil || seen[ref] {
				continue
			}
			seen[ref] = true
			out[ref] = append(out[ref], p.Namespace+"/"+p.Name)
		}
	}
	return out
}

func (b *backend) runtimeOrErr() (runtime.Runtime, error) {
	why, rt, _ := b.parts()
	if rt == nil {
		return nil, fmt.Errorf("not ready: %s: %w", why, api.ErrBadRequest)
	}
	return rt, nil
}

// ListImages implements api.ImageBackend.
func (b *backend) ListImages(ctx context.Context) ([]api.Image, error) {
	rt, err := b.runtimeOrErr()
	if err != nil {
		return nil, err
	}
	imgs, err := rt.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	users := b.users()
	out := make([]api.Image, 0, len(imgs))
	for _, i := range imgs {
		u := users[i.Ref]
		sort.Strings(u)
		out = append(out, api.Image{Ref: i.Ref, ID: i.ID, Size: i.Size, InUse: u})
	}
	return out, nil
}

// importOptions bound every import (socket and archive directory alike)
// and refuse to move a name in use: the next start of a container of
// that pod, or every new sandbox, would run whatever the archive holds
// under that name.
func (b *backend) importOptions() imagedir.ImportOptions {
	return imagedir.ImportOptions{
		MaxSize: b.maxImport,
		Runtime: runtime.ImportOptions{Repoint: func(ref, from, to string) error {
			u := b.users()[ref]
			if len(u) == 0 {
				return nil
			}
			sort.Strings(u)
			return fmt.Errorf("image %s is in use by %s; the archive would move it from %s to %s: "+
				"import it under another name (and change the pods), or remove the pods using it first: %w",
				ref, strings.Join(u, ", "), from, to, api.ErrConflict)
		}},
	}
}

// importSlot takes the one import slot, waiting with ctx (the archive
// directory's imports); wait false returns ErrBusy at once when it is
// taken (the socket's: a waiting request would hold its connection and
// unread body, unseen, for as long as the import before it takes).
func (b *backend) importSlot(ctx context.Context, wait bool) (release func(), err error) {
	if !wait {
		select {
		case b.imports <- struct{}{}:
			return func() { <-b.imports }, nil
		default:
			return nil, fmt.Errorf("another image import is in progress; try again when it is done: %w", api.ErrBusy)
		}
	}
	select {
	case b.imports <- struct{}{}:
		return func() { <-b.imports }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// importStream imports an archive sent to the socket in the import slot,
// or returns ErrBusy when it is taken.
func (b *backend) importStream(ctx context.Context, rt runtime.Runtime, r io.Reader) ([]runtime.Image, error) {
	release, err := b.importSlot(ctx, false)
	if err != nil {
		return nil, err
	}
	defer release()
	imgs, err := imagedir.Import(ctx, rt, r, b.importOptions())
	switch {
	case errors.Is(err, imagedir.ErrTooLarge):
		err = fmt.Errorf("%w: %w", err, api.ErrTooLarge)
	case errors.Is(err, runtime.ErrDigestMismatch):
		err = fmt.Errorf("%w: %w", err, api.ErrBadRequest)
	}
	return imgs, err
}

// ImportImages implements api.ImageBackend: one import at a time, the
// next gets ErrBusy.
func (b *backend) ImportImages(ctx context.Context, r io.Reader) ([]api.Image, error) {
	rt, err := b.runtimeOrErr()
	if err != nil {
		return nil, err
	}
	imgs, err := b.importStream(ctx, rt, r)
	if err != nil {
		return nil, err
	}
	out := make([]api.Image, 0, len(imgs))
	for _, i := range imgs {
		out = append(out, api.Image{Ref: i.Ref, ID: i.ID, Size: i.Size})
	}
	return out, nil
}

// RemoveImage implements api.ImageBackend: an image in use by a pod, or the
// sandbox image, stays.
func (b *backend) RemoveImage(ctx context.Context, ref string) error {
	rt, err := b.runtimeOrErr()
	if err != nil {
		return err
	}
	full, err := runtime.NormalizeImageRef(ref)
	if err != nil {
		return fmt.Errorf("%v: %w", err, api.ErrBadRequest)
	}
	if u := b.users()[full]; len(u) > 0 {
		return fmt.Errorf("image %s is in use by %v: %w", full, u, api.ErrConflict)
	}
	if err := rt.RemoveImage(ctx, full); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return fmt.Errorf("image %s: %w", full, api.ErrNotFound)
		}
		return err
	}
	return nil
}

// importFile imports an archive of the archive directory, waiting for the
// import slot.
func (b *backend) importFile(ctx context.Context, rt runtime.Runtime, path string) ([]runtime.Image, error) {
	release, err := b.importSlot(ctx, true)
	if err != nil {
		return nil, err
	}
	defer release()
	return imagedir.ImportFile(ctx, rt, path, b.importOptions())
}
