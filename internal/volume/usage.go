package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// DiskUsage is what the files under dir take on disk, as du counts it:
// allocated blocks, each hard-linked file once, without crossing into
// other file systems mounted below dir. A dir that does not exist uses
// nothing; files that vanish during the walk are skipped.
func DiskUsage(dir string) (int64, error) {
	root, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	rootDev := root.Sys().(*syscall.Stat_t).Dev
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if uint64(st.Dev) != uint64(rootDev) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		k := inode{uint64(st.Dev), st.Ino}
		if st.Nlink > 1 && seen[k] {
			return nil
		}
		seen[k] = true
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return total, nil
}
