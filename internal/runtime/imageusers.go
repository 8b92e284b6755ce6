package runtime

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

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

// Bounds of the ImageUsers cache. Real images' files are a few KiB, so
// the entries bound it in practice and the bytes against an image built
// to be large; an entry over the bytes bound is not kept.
const (
	maxImageUsersEntries = 64
	maxImageUsersBytes   = 16 << 20
)

// imageUsersCache remembers ImageUsers by target digest: an image's files
// never change, so each is read once while it is in use. It keeps the
// most recently used entries within maxEntries and maxBytes (an image
// whose name moved to a new digest, such as :latest pulled again, leaves
// its old entry to age out), and forgets an image when it is removed.
type imageUsersCache struct {
	// maxEntries and maxBytes: zero means the defaults above.
	maxEntries int
	maxBytes   int64

	mu    sync.Mutex
	order *list.List // of *usersEntry, most recently used first
	byID  map[string]*list.Element
	bytes int64
}

type usersEntry struct {
	id   string
	u    *ImageUsers
	size int64
}

func (c *imageUsersCache) get(id string) *ImageUsers {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*usersEntry).u
}

func (c *imageUsersCache) put(id string, u *ImageUsers) {
	maxEntries, maxBytes := c.maxEntries, c.maxBytes
	if maxEntries == 0 {
		maxEntries = maxImageUsersEntries
	}
	if maxBytes == 0 {
		maxBytes = maxImageUsersBytes
	}
	size := u.size()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]*list.Element{}
		c.order = list.New()
	}
	c.removeLocked(id)
	if size > maxBytes {
		return
	}
	c.byID[id] = c.order.PushFront(&usersEntry{id: id, u: u, size: size})
	c.bytes += size
	for c.order.Len() > maxEntries || c.bytes > maxBytes {
		c.removeLocked(c.order.Back().Value.(*usersEntry).id)
	}
}

// forget drops an image's entry (the image was removed).
func (c *imageUsersCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(id)
}

func (c *imageUsersCache) removeLocked(id string) {
	e, ok := c.byID[id]
	if !ok {
		return
	}
	c.order.Remove(e)
	delete(c.byID, id)
	c.bytes -= e.Value.(*usersEntry).size
}

// size is about the memory u holds.
func (u *ImageUsers) size() int64 {
	n := int64(unsafe.Sizeof(*u))
	for _, e := range u.Users {
		n += int64(unsafe.Sizeof(e)) + int64(len(e.Name)+len(e.Pass)+len(e.Gecos)+len(e.Home)+len(e.Shell))
	}
	for _, g := range u.Groups {
		n += int64(unsafe.Sizeof(g)) + int64(len(g.Name)+len(g.Pass))
		for _, m := range g.List {
			n += int64(unsafe.Sizeof(m)) + int64(len(m))
		}
	}
	return n
}

// ImageUsers reads the image's /etc/passwd and /etc/group, which resolve a
// named USER and give the user's groups, as containerd's CRI plugin reads
// them for the kubelet. They are read from a read-only view of the image's
// unpacked layers, mounted for the moment of the read (the daemon is root),
// with symbolic links resolved inside the image. The result is
// cached by target digest (imageUsersCache), so only the first container
// of an image pays for the mount. The files are those of image's target, the image the
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
