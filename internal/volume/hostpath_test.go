package volume

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// hostFixtures makes a directory, a file and a socket in a temp dir.
func hostFixtures(t *testing.T) (dir, file, sock string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Short: a socket path must fit in 108 bytes.
	sockDir, err := os.MkdirTemp("", "hp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock = filepath.Join(sockDir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return dir, file, sock
}

// blockDevice returns a block device node on this host, or "".
func blockDevice() string {
	entries, _ := os.ReadDir("/dev")
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join("/dev", e.Name())); err == nil && fi.Mode().Type() == os.ModeDevice {
			return filepath.Join("/dev", e.Name())
		}
	}
	return ""
}

func TestCheckHostPath(t *testing.T) {
	dir, file, sock := hostFixtures(t)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		path    string
		typ     v1.HostPathType
		wantErr string // substring; "" means it passes
	}{
		{"unset on a file", file, v1.HostPathUnset, ""},
		{"Directory", dir, v1.HostPathDirectory, ""},
		{"Directory on a file", file, v1.HostPathDirectory, "hostPath type check failed: " + file + " is not a directory (it is a regular file)"},
		{"Directory missing", missing, v1.HostPathDirectory, "is not a directory (it does not exist)"},
		{"DirectoryOrCreate on a file", file, v1.HostPathDirectoryOrCreate, "is not a directory"},
		{"File", file, v1.HostPathFile, ""},
		{"File on a directory", dir, v1.HostPathFile, "is not a file (it is a directory)"},
		{"File missing", missing, v1.HostPathFile, "is not a file (it does not exist)"},
		{"FileOrCreate on a directory", dir, v1.HostPathFileOrCreate, "is not a file"},
		{"FileOrCreate without its parent", filepath.Join(missing, "f"), v1.HostPathFileOrCreate, "create " + filepath.Join(missing, "f")},
		{"Socket", sock, v1.HostPathSocket, ""},
		{"Socket on a file", file, v1.HostPathSocket, "is not a socket file (it is a regular file)"},
		{"CharDevice", "/dev/null", v1.HostPathCharDev, ""},
		{"CharDevice on a socket", sock, v1.HostPathCharDev, "is not a character device (it is a socket)"},
		{"BlockDevice on a char device", "/dev/null", v1.HostPathBlockDev, "is not a block device (it is a character device)"},
		{"unknown type", dir, "Pipe", "invalid hostPath type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHostPath(tt.path, tt.typ)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("BlockDevice", func(t *testing.T) {
		dev := blockDevice()
		if dev == "" {
			t.Skip("no block device under /dev on this host")
		}
		if err := CheckHostPath(dev, v1.HostPathBlockDev); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCheckHostPathCreates(t *testing.T) {
	dir := t.TempDir()
	newDir := filepath.Join(dir, "a", "b")
	if err := CheckHostPath(newDir, v1.HostPathDirectoryOrCreate); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(newDir); err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o022 != 0o755&^0o022 {
		t.Fatalf("DirectoryOrCreate made %v (%v)", fi, err)
	}
	newFile := filepath.Join(dir, "f")
	if err := CheckHostPath(newFile, v1.HostPathFileOrCreate); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(newFile); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Fatalf("FileOrCreate made %v (%v)", fi, err)
	}
	// An existing file is left as it is.
	if err := os.WriteFile(newFile, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckHostPath(newFile, v1.HostPathFileOrCreate); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(newFile); string(b) != "keep" {
		t.Fatalf("FileOrCreate changed an existing file to %q", b)
	}
	// No type: a missing path becomes a directory, as with containerd.
	unset := filepath.Join(dir, "unset")
	if err := CheckHostPath(unset, v1.HostPathUnset); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(unset); err != nil || !fi.IsDir() {
		t.Fatalf("unset type made %v (%v)", fi, err)
	}
	// Links are followed.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(newDir, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckHostPath(link, v1.HostPathDirectory); err != nil {
		t.Fatal(err)
	}
}
