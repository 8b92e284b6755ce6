package leftovers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TerminationFilesIn lists the termination-message files of pod uid in
// dir (<pod dir>/termination, where the pod worker makes one per container
// attempt, named after the container ID). Only regular files are listed.
func TerminationFilesIn(dir, uid string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []File
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, File{PodUID: uid, ContainerID: e.Name(), Path: filepath.Join(dir, e.Name()), ModTime: fi.ModTime()})
	}
	return out, nil
}
