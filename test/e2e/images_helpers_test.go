package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// writeBusyboxImage writes an OCI archive of a busybox image named ref,
// with config cfg, into the daemon's directory and returns its path.
// Files in replace take the place of the image's own at the same path
// (or are added).
func (d *daemon) writeBusyboxImage(ref string, cfg ocibuild.Config, replace ...ocibuild.File) string {
	d.t.Helper()
	files, err := ocibuild.BusyboxFiles(staticBusybox)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, r := range replace {
		kept := files[:0]
		for _, f := range files {
			if f.Path != r.Path {
				kept = append(kept, f)
			}
		}
		files = append(kept, r)
	}
	var buf bytes.Buffer
	if _, err := ocibuild.WriteArchive(&buf, ref, files, cfg); err != nil {
		d.t.Fatal(err)
	}
	archive := filepath.Join(d.dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return archive
}
