package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// errImportEnded is what the archive writer sees when the import stopped
// reading before the end of the archive.
var errImportEnded = errors.New("sandbox image import ended")

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
	// The archive streams into the import through a pipe instead of
	// being built whole in a bytes.Buffer first: the buffer and its
	// doubling growth were the largest part of the heap at startup
	// (2.4 MB in bytes.growSlice under ocibuild.WriteArchive), pages the
	// idle daemon then kept. WriteArchive checks its inputs and builds
	// the blobs before it writes a byte, so a bad input still fails
	// before containerd sees anything.
	pr, pw := io.Pipe()
	built := make(chan error, 1)
	go func() {
		_, err := ocibuild.WriteArchive(pw, full, files, cfg)
		pw.CloseWithError(err) // nil: the import reads EOF
		built <- err
	}()
	_, importErr := s.rt.ImportImage(ctx, pr, runtime.ImportOptions{})
	// An import that stops reading early must not leave the writer
	// blocked on the pipe.
	pr.CloseWithError(errImportEnded)
	if err := <-built; err != nil && !errors.Is(err, errImportEnded) {
		return fmt.Errorf("build sandbox image from %s: %w", bin, err)
	}
	if importErr != nil {
		return fmt.Errorf("import sandbox image: %w", importErr)
	}
	s.log.Info("built and imported sandbox image", zap.String("image", full), zap.String("pauseBinary", bin))
	return nil
}
