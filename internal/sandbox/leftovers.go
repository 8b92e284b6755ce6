package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// What a leftover collector (internal/leftovers) needs to find and
// reclaim what a killed daemon left of sandboxes and pods.

// NetNSPins returns the sandbox IDs that have a network namespace pin (or
// a stale pin file) under <state-dir>/netns.
func (m *Manager) NetNSPins() ([]string, error) {
	return dirNames(filepath.Join(m.StateDir, "netns"))
}

// PodDirUIDs returns the pod UIDs that have a directory (or anything else)
// under <state-dir>/pods.
func (m *Manager) PodDirUIDs() ([]string, error) {
	return dirNames(filepath.Join(m.StateDir, "pods"))
}

// ReleaseNetwork detaches sandbox id from the pod network (from libcni's
// cache or the network's own record, see cni.Network.Teardown) and
// removes its namespace pin, whether or not its container still exists.
func (m *Manager) ReleaseNetwork(ctx context.Context, id string) error {
	return m.releaseNetwork(ctx, id)
}

// dirNames lists the names in dir; a missing dir has none.
func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}
