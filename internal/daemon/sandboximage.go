package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
	"github.com/minikubelet/minikubelet/internal/runtime"
)

// pauseBinaryPaths are where the pause binary is looked for, in order: next
// to the daemon (a build tree or a tarball), then the packaged locations.
func pauseBinaryPaths(exe string) []string {
	return []string{
		filepath.Join(filepath.Dir(exe), "minikubelet-pause"),
		"/usr/local/lib/minikubelet/pause",
		"/usr/lib/minikubelet/pause",
	}
}

// sandboxImage makes the pause image available offline: when the
// configured image is not in containerd, it is built from the pause binary
// shipped with the daemon and imported, so no registry is ever needed.
type sandboxImage struct {
	ref string
	rt  runtime.Runtime
	exe string
	log *zap.Logger
	mu  sync.Mutex
}

func (s *sandboxImage) ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.rt.GetImage(ctx, s.ref)
	if err == nil {
		return nil
	}
	if !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	var bin string
	for _, p := range pauseBinaryPaths(s.exe) {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return fmt.Errorf("image %s is not in containerd and no pause binary was found to build it (looked in %v)", s.ref, pauseBinaryPaths(s.exe))
	}
	files, cfg, err := ocibuild.PauseFiles(bin)
	if err != nil {
		return err
	}
	full, err := runtime.NormalizeImageRef(s.ref)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := ocibuild.WriteArchive(&buf, full, files, cfg); err != nil {
		return fmt.Errorf("build sandbox image from %s: %w", bin, err)
	}
	if _, err := s.rt.ImportImage(ctx, &buf); err != nil {
		return fmt.Errorf("import sandbox image: %w", err)
	}
	s.log.Info("built and imported sandbox image", zap.String("image", full), zap.String("pauseBinary", bin))
	return nil
}
