package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSubPath(t *testing.T) {
	for sub, wantErr := range map[string]string{
		"a":         "",
		"a/b/c":     "",
		"./a":       "",
		"a..b":      "",
		"/etc":      "must be a relative path",
		"..":        "must not contain '..'",
		"../x":      "must not contain '..'",
		"a/../b":    "must not contain '..'",
		"a/b/..":    "must not contain '..'",
		"a/./../..": "must not contain '..'",
	} {
		err := CheckSubPath(sub)
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("CheckSubPath(%q) = %v, want %q", sub, err, wantErr)
		}
	}
}

// volumeTree makes a volume with a directory, a file, a link inside the
// volume, a link out of it and a dangling link.
func volumeTree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "vol"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "dir", "inner"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dir", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"in":       "dir/inner",
		"out":      outside,
		"root":     "/",
		"up":       "..",
		"dangling": "nowhere/at/all",
		"upfar":    "../outside/new",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestResolveSubPath(t *testing.T) {
	root, outside := volumeTree(t)
	realRoot, _ := filepath.EvalSymlinks(root)
	tests := []struct {
		name    string
		sub     string
		create  bool
		want    string // relative to the volume
		wantErr string
	}{
		{"directory", "dir", false, "dir", ""},
		{"file", "dir/file", false, "dir/file", ""},
		{"link inside the volume", "in", false, "dir/inner", ""},
		{"link out of the volume", "out", false, "", "outside the volume"},
		{"link to /", "root", false, "", "outside the volume"},
		{"link to .. ", "up", false, "", "outside the volume"},
		{"through a link to /", "root/etc", false, "", "outside the volume"},
		{"missing", "nope", false, "", "does not exist in the volume"},
		{"absolute", "/etc", false, "", "must be a relative path"},
		{"dot-dot", "dir/../../x", true, "", "must not contain '..'"},
		{"created", "new/deeper", true, "new/deeper", ""},
		{"created below an inside link", "in/made", true, "dir/inner/made", ""},
		{"not created through an outside link", "out/made", true, "", "outside the volume"},
		{"not created through a dangling link", "dangling/x", true, "", "create subPath"},
		{"not created through a link that climbs out", "upfar/x", true, "", "create subPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveSubPath(root, tt.sub, tt.create)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(realRoot, tt.want); got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
	// upfar points at a missing directory outside: nothing may be made
	// there on its behalf.
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a directory was made outside the volume")
	}
}

func TestResolveSubPathKeepsRootMode(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o777|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	got, err := ResolveSubPath(root, "a/b", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(got), got} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o777 || fi.Mode()&os.ModeSetgid == 0 {
			t.Errorf("%s has mode %v, want the volume root's drwxrwsrwx (umask not applied)", p, fi.Mode())
		}
	}
}
