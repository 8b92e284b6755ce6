package runtime

import (
	"os"
	"path/filepath"
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
