package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions guard what an import may change.
type ImportOptions struct {
	// Repoint is asked before an existing name moves to another target
	// (digests from and to); an error refuses the whole import, before
	// any name changes. nil allows every move.
	Repoint func(ref, from, to string) error
}

// ErrDigestMismatch is returned (wrapped) for an archive that names an
// image repo@sha256:X whose manifest is not X.
var ErrDigestMismatch = errors.New("digest does not match")

// maxIndexSize bounds the index of an archive read into memory.
const maxIndexSize = 4 << 20

// ImportImage imports an image archive and unpacks every image in it. It
// does what containerd's client.Import does, in two steps with checks
// between them: the archive's blobs go into the content store (under a
// lease, so a failed import leaves nothing for long), then every name is
// checked (checkImportNames) and only then created or moved.
func (c *Containerd) ImportImage(ctx context.Context, r io.Reader, o ImportOptions) ([]Image, error) {
	// Ends with the import, for the same reason as in PullImage.
	ctx, cancel := context.WithCancel(c.ctx(ctx))
	defer cancel()
	ctx, done, err := c.client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("import image archive: lease: %w", err)
	}
	defer done(context.WithoutCancel(ctx))
	cs := c.client.ContentStore()
	index, err := archive.ImportIndex(ctx, cs, r)
	if err != nil {
		return nil, fmt.Errorf("import image archive: %w", err)
	}
	named, err := archiveNames(ctx, cs, index)
	if err != nil {
		return nil, fmt.Errorf("import image archive: %w", err)
	}
	// Labels on the blobs that keep each one's children from the garbage
	// collector once the lease ends, for this node's platform.
	keep := images.SetChildrenLabels(cs, images.FilterPlatforms(images.ChildrenHandler(cs), platforms.Default()))
	if err := images.WalkNotEmpty(ctx, keep, index); err != nil {
		return nil, fmt.Errorf("import image archive: %w", err)
	}
	is := c.client.ImageService()
	if err := checkImportNames(named, func(name string) (ocispec.Descriptor, bool, error) {
		old, err := is.Get(ctx, name)
		if errdefs.IsNotFound(err) {
			return ocispec.Descriptor{}, false, nil
		}
		return old.Target, err == nil, err
	}, o); err != nil {
		return nil, err
	}
	var out []Image
	for _, img := range named {
		saved, err := is.Update(ctx, img, "target")
		if errdefs.IsNotFound(err) {
			saved, err = is.Create(ctx, img)
		}
		if err != nil {
			return out, fmt.Errorf("import image archive: name %s: %w", img.Name, err)
		}
		d, err := c.describeImage(ctx, client.NewImage(c.client, saved))
		if err != nil {
			return out, err
		}
		out = append(out, *d)
	}
	return out, nil
}

// archiveNames returns the images an imported archive names: each
// manifest of its index with the containerd image name annotation, else
// the OCI ref name annotation, as containerd's importer reads them.
func archiveNames(ctx context.Context, cs content.Provider, index ocispec.Descriptor) ([]images.Image, error) {
	if index.Size > maxIndexSize {
		return nil, fmt.Errorf("index of %d bytes is over %d", index.Size, maxIndexSize)
	}
	data, err := content.ReadBlob(ctx, cs, index)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	var out []images.Image
	for _, m := range idx.Manifests {
		name := m.Annotations[images.AnnotationImageName]
		if name == "" {
			name = m.Annotations[ocispec.AnnotationRefName]
		}
		if name != "" {
			out = append(out, images.Image{Name: name, Target: m})
		}
	}
	return out, nil
}

// checkImportNames refuses an import that would give a digest-form name
// another digest, or move an existing name (current returns its target)
// where o.Repoint says no.
func checkImportNames(named []images.Image, current func(name string) (ocispec.Descriptor, bool, error), o ImportOptions) error {
	for _, img := range named {
		if ref, err := reference.ParseNormalizedNamed(img.Name); err == nil {
			if d, ok := ref.(reference.Digested); ok && d.Digest() != img.Target.Digest {
				return fmt.Errorf("import image archive: image %s names digest %s but the archive's manifest for it is %s: %w",
					img.Name, d.Digest(), img.Target.Digest, ErrDigestMismatch)
			}
		}
		old, exists, err := current(img.Name)
		if err != nil {
			return fmt.Errorf("import image archive: look up image %s: %w", img.Name, err)
		}
		if exists && old.Digest != img.Target.Digest && o.Repoint != nil {
			if err := o.Repoint(img.Name, old.Digest.String(), img.Target.Digest.String()); err != nil {
				return fmt.Errorf("import image archive: %w", err)
			}
		}
	}
	return nil
}
