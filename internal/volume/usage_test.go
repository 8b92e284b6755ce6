package volume

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	if got, err := DiskUsage(filepath.Join(dir, "none")); err != nil || got != 0 {
		t.Fatalf("missing dir: %d, %v; want 0, nil", got, err)
	}
	empty, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB of data (written, so allocated), a hard link to it that must
	// not count twice, and a sparse file that takes (almost) nothing.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = 1
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(sub, "f"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	sparse.Close()
	got, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The data plus the new directory's blocks, well under twice the data
	// (the link) and nowhere near the sparse file's size.
	if got-empty < 1<<20 || got-empty > 1<<20+64<<10 {
		t.Errorf("usage grew by %d bytes, want 1 MiB plus a little", got-empty)
	}
}
