package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

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

// ImportImages implements api.ImageBackend.
func (b *backend) ImportImages(ctx context.Context, r io.Reader) ([]api.Image, error) {
	rt, err := b.runtimeOrErr()
	if err != nil {
		return nil, err
	}
	imgs, err := imagedir.Import(ctx, rt, r)
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
