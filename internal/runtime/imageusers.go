package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/continuity/fs"
	"github.com/moby/sys/user"
	"github.com/opencontainers/image-spec/identity"
)

// maxUserFileSize bounds what is read of an image's /etc/passwd or
// /etc/group: both are a few KiB in real images.
const maxUserFileSize = 4 << 20

// ImageUsers are the entries of an image's /etc/passwd and /etc/group;
// a nil slice means the image has no such file.
type ImageUsers struct {
	Users  []user.User
	Groups []user.Group
}

// imageUsersCache remembers ImageUsers by target digest: an image's files
// never change, so each is read once per daemon.
type imageUsersCache struct {
	mu sync.Mutex
	m  map[string]*ImageUsers
}

func (c *imageUsersCache) get(id string) *ImageUsers {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *imageUsersCache) put(id string, u *ImageUsers) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*ImageUsers{}
	}
	c.m[id] = u
}

// ImageUsers reads the image's /etc/passwd and /etc/group, which resolve a
// named USER and give the user's groups, as containerd's CRI plugin reads
// them for the kubelet. They are read from a read-only view of the image's
// unpacked layers, mounted for the moment of the read (the daemon is root),
// with symbolic links resolved inside the image. The result is
// cached by target digest, so only the first container of an image pays
// for the mount. The files are those of image's target, the image the
// caller resolved, whatever its name points at now.
func (c *Containerd) ImageUsers(ctx context.Context, image *Image) (*ImageUsers, error) {
	img, err := c.resolved(image)
	if err != nil {
		return nil, err
	}
	key := image.Target.Digest.String()
	if u := c.users.get(key); u != nil {
		return u, nil
	}
	ctx = c.ctx(ctx)
	full := image.Ref
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return nil, fmt.Errorf("image %s: read layers: %w", full, err)
	}
	// The lease keeps the view from containerd's garbage collector while
	// it exists; the view is removed anyway when done.
	ctx, done, err := c.client.WithLease(ctx, leases.WithRandomID(), leases.WithExpiration(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("image %s: lease for reading /etc/passwd: %w", full, err)
	}
	defer done(context.WithoutCancel(ctx))
	sn := c.client.SnapshotService(c.o.Snapshotter)
	view := LabelPrefix + "users-" + randomID()
	mounts, err := sn.View(ctx, view, identity.ChainID(diffIDs).String())
	if err != nil {
		return nil, fmt.Errorf("image %s: view its layers: %w", full, err)
	}
	defer sn.Remove(context.WithoutCancel(ctx), view)

	u := &ImageUsers{}
	err = mount.WithReadonlyTempMount(ctx, mounts, func(root string) error {
		var err error
		if u.Users, err = readUserFile(root, "/etc/passwd", user.ParsePasswd); err != nil {
			return err
		}
		u.Groups, err = readUserFile(root, "/etc/group", user.ParseGroup)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", full, err)
	}
	c.users.put(key, u)
	return u, nil
}

// readUserFile parses one file of the image mounted at root; a missing
// file is nil. Symbolic links are resolved as inside the image, an
// absolute one from the image's root (continuity's RootPath, as
// containerd's own user lookup does), so none leads to the host's files.
func readUserFile[T any](root, name string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	p, err := fs.RootPath(root, name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	// O_NONBLOCK: an image's FIFO must not hang the pod worker.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s in the image is not a regular file", name)
	}
	entries, err := parse(io.LimitReader(f, maxUserFileSize))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	if entries == nil {
		entries = []T{} // present but empty: names do not resolve
	}
	return entries, nil
}
