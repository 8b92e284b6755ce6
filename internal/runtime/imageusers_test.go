package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/user"
)

// TestReadUserFile reads /etc/passwd from an image root the way
// ImageUsers does: a missing file is nil, an empty one is no entries, an
// absolute symbolic link points inside the image, and no link leads out of
// it to the host's files.
func TestReadUserFile(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host:x:0:0::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	images := map[string]func(root string) error{
		"missing": func(string) error { return nil },
		"empty":   func(root string) error { return os.WriteFile(filepath.Join(root, "etc/passwd"), nil, 0o644) },
		"plain": func(root string) error {
			return os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
		},
		"absolute link inside": func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "usr/share"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, "usr/share/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644); err != nil {
				return err
			}
			return os.Symlink("/usr/share/passwd", filepath.Join(root, "etc/passwd"))
		},
		"absolute link out": func(root string) error {
			return os.Symlink(filepath.Join(host, "secret"), filepath.Join(root, "etc/passwd"))
		},
		"relative link out": func(root string) error {
			return os.Symlink("../../../../../../../../"+filepath.Join(host, "secret"), filepath.Join(root, "etc/passwd"))
		},
	}
	for name, setup := range images {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := setup(dir); err != nil {
				t.Fatal(err)
			}
			users, err := readUserFile(dir, "/etc/passwd", user.ParsePasswd)
			switch name {
			case "missing":
				if err != nil || users != nil {
					t.Errorf("users %v, err %v; want nil, nil", users, err)
				}
			case "empty":
				if err != nil || users == nil || len(users) != 0 {
					t.Errorf("users %#v, err %v; want an empty list", users, err)
				}
			case "plain", "absolute link inside":
				if err != nil || len(users) != 2 || users[1].Name != "app" || users[1].Uid != 1000 {
					t.Errorf("users %+v, err %v", users, err)
				}
			default:
				// Resolved inside the image, where nothing is.
				if err != nil || users != nil {
					t.Errorf("users %+v, err %v; want nil, nil (not the host's file)", users, err)
				}
			}
		})
	}
}

// TestImageUsersCacheBounded: the cache keeps the most recently used
// images within its entry and byte bounds, never keeps an entry larger
// than the byte bound, and forgets a removed image.
func TestImageUsersCacheBounded(t *testing.T) {
	small := func(name string) *ImageUsers {
		return &ImageUsers{Users: []user.User{{Name: name, Uid: 1000}}, Groups: []user.Group{{Name: name, List: []string{name}}}}
	}
	c := &imageUsersCache{maxEntries: 3, maxBytes: 1 << 20}
	for _, id := range []string{"a", "b", "c"} {
		c.put(id, small(id))
	}
	if c.get("a") == nil {
		t.Fatal("a not cached")
	}
	c.put("d", small("d")) // b is the least recently used now
	for id, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := c.get(id) != nil; got != want {
			t.Errorf("after a fourth entry: %s cached %v, want %v", id, got, want)
		}
	}
	if c.order.Len() != 3 || len(c.byID) != 3 {
		t.Fatalf("%d entries (%d by id), want 3", c.order.Len(), len(c.byID))
	}

	c.forget("c")
	if c.get("c") != nil || c.order.Len() != 2 {
		t.Fatalf("c still cached after forget (%d entries)", c.order.Len())
	}

	// By bytes: an image with a huge /etc/group pushes others out, one
	// over the bound is not kept at all.
	huge := func(n int) *ImageUsers {
		u := &ImageUsers{Groups: []user.Group{{Name: "g", List: make([]string, n)}}}
		for i := range u.Groups[0].List {
			u.Groups[0].List[i] = strings.Repeat("m", 100)
		}
		return u
	}
	c.put("big", huge(6000)) // about 700 KiB of the 1 MiB
	if c.get("big") == nil {
		t.Fatal("big not cached")
	}
	c.put("bigger", huge(6000))
	if c.get("big") != nil || c.get("bigger") == nil {
		t.Fatalf("two entries over the byte bound together: big %v bigger %v", c.get("big") != nil, c.get("bigger") != nil)
	}
	c.put("too big", huge(20000))
	if c.get("too big") != nil {
		t.Fatal("an entry over the byte bound was kept")
	}
	var sum int64
	for e := c.order.Front(); e != nil; e = e.Next() {
		sum += e.Value.(*usersEntry).size
	}
	if sum != c.bytes || c.bytes > c.maxBytes {
		t.Fatalf("bytes %d, entries add up to %d, bound %d", c.bytes, sum, c.maxBytes)
	}
	// Put again under the same id replaces, not duplicates.
	c.put("d", small("d2"))
	if u := c.get("d"); u == nil || u.Users[0].Name != "d2" || len(c.byID) != c.order.Len() {
		t.Fatalf("replaced entry %+v, %d by id, %d in order", u, len(c.byID), c.order.Len())
	}
}
