package runtime

import (
	"context"
	"fmt"
	"sort"

	"github.com/containerd/containerd/v2/core/images"
)

// ListImages returns the images of the daemon's namespace, by name. Images
// that cannot be described (content missing) are listed by name only.
func (c *Containerd) ListImages(ctx context.Context) ([]Image, error) {
	ctx = c.ctx(ctx)
	imgs, err := c.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		i := Image{Ref: img.Name(), ID: repoDigest(img.Name(), img.Target().Digest.String())}
		if size, err := img.Size(ctx); err == nil {
			i.Size = size
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Ref < out[b].Ref })
	return out, nil
}

// RemoveImage deletes an image by reference; its content and snapshots
// are garbage collected by containerd once nothing else refers to them.
func (c *Containerd) RemoveImage(ctx context.Context, ref string) error {
	ctx = c.ctx(ctx)
	full, err := NormalizeImageRef(ref)
	if err != nil {
		return err
	}
	is := c.client.ImageService()
	img, err := is.Get(ctx, full)
	if err != nil {
		return wrapNotFound(err, "image "+full)
	}
	if err := is.Delete(ctx, full, images.SynchronousDelete()); err != nil {
		return wrapNotFound(err, "image "+full)
	}
	// Another name may have the same target; it reads the files again.
	c.users.forget(img.Target.Digest.String())
	return nil
}
