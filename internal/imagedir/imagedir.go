// Package imagedir imports image archives dropped into a directory, for
// nodes without registry access (as k3s does for air-gapped nodes): every
// OCI or Docker archive (*.tar, *.tar.gz, *.tgz, *.tar.zst) found there at
// startup or written later is imported into containerd and unpacked.
package imagedir

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// Archive reports whether a file name is an image archive to import.
// Hidden files are skipped: tools write archives under a temporary dot
// name and rename them when complete.
func Archive(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// fileState identifies one version of a file: an archive is imported once
// per version, and only once it stopped changing.
type fileState struct {
	size  int64
	mtime time.Time
}

// Options configure a Watcher.
type Options struct {
	Dir    string
	Import func(ctx context.Context, path string) ([]runtime.Image, error)
	Clock  clock.WithTicker
	Logger *zap.Logger
	// Settle is how long a file must keep its size and mtime before it is
	// imported, so a half-written archive is not (default 2 s).
	Settle time.Duration
	// Rescan catches what inotify missed (default 30 s).
	Rescan time.Duration
}

// Watcher imports archives from a directory.
type Watcher struct {
	o        Options
	imported map[string]fileState
	pending  map[string]fileState
	seen     map[string]time.Time // when pending's state was first seen
	failed   map[string]fileState
}

// New returns a Watcher; Run starts it.
func New(o Options) *Watcher {
	if o.Settle == 0 {
		o.Settle = 2 * time.Second
	}
	if o.Rescan == 0 {
		o.Rescan = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Watcher{o: o, imported: map[string]fileState{}, pending: map[string]fileState{}, seen: map[string]time.Time{}, failed: map[string]fileState{}}
}

// Run imports what is there, then follows the directory until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	log := w.o.Logger
	if err := os.MkdirAll(w.o.Dir, 0o700); err != nil {
		log.Error("create image archive directory", zap.String("dir", w.o.Dir), zap.Error(err))
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error("watch image archive directory; relying on rescans", zap.Error(err))
	} else {
		defer fw.Close()
		if err := fw.Add(w.o.Dir); err != nil {
			log.Error("watch image archive directory; relying on rescans", zap.String("dir", w.o.Dir), zap.Error(err))
		}
	}
	var events <-chan fsnotify.Event
	if fw != nil {
		events = fw.Events
	}
	rescan := w.o.Clock.NewTicker(w.o.Rescan)
	defer rescan.Stop()
	for {
		next := w.scan(ctx)
		var settle <-chan time.Time
		if next > 0 {
			settle = w.o.Clock.After(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-events:
		case <-settle:
		case <-rescan.C():
		}
	}
}

// scan looks at every archive: new or changed ones start settling, settled
// ones are imported. It returns how long until the next settles (0: none).
func (w *Watcher) scan(ctx context.Context) time.Duration {
	entries, err := os.ReadDir(w.o.Dir)
	if err != nil {
		w.o.Logger.Warn("read image archive directory", zap.String("dir", w.o.Dir), zap.Error(err))
		return 0
	}
	now := w.o.Clock.Now()
	var next time.Duration
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && Archive(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	w.forgetGone(names)
	for _, name := range names {
		path := filepath.Join(w.o.Dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		st := fileState{size: fi.Size(), mtime: fi.ModTime()}
		if w.imported[path] == st || w.failed[path] == st {
			continue
		}
		if w.pending[path] != st {
			// New or still changing: wait until it holds still.
			w.pending[path] = st
			w.seen[path] = now
			if next == 0 || w.o.Settle < next {
				next = w.o.Settle
			}
			continue
		}
		if now.Before(w.seen[path].Add(w.o.Settle)) {
			if d := w.seen[path].Add(w.o.Settle).Sub(now); next == 0 || d < next {
				next = d
			}
			continue
		}
		delete(w.pending, path)
		delete(w.seen, path)
		w.importFile(ctx, path, st)
	}
	return next
}

// forgetGone drops what is known of archives no longer in the directory
// (names, as read just now), so that the state follows the directory
// instead of growing with every archive that ever passed through it.
func (w *Watcher) forgetGone(names []string) {
	present := make(map[string]bool, len(names))
	for _, name := range names {
		present[filepath.Join(w.o.Dir, name)] = true
	}
	for _, m := range []map[string]fileState{w.imported, w.failed, w.pending} {
		for path := range m {
			if !present[path] {
				delete(m, path)
			}
		}
	}
	for path := range w.seen {
		if !present[path] {
			delete(w.seen, path)
		}
	}
}

func (w *Watcher) importFile(ctx context.Context, path string, st fileState) {
	log := w.o.Logger.With(zap.String("archive", path))
	start := w.o.Clock.Now()
	imgs, err := w.o.Import(ctx, path)
	if err != nil {
		// Kept so the same broken file is not retried until it changes.
		w.failed[path] = st
		log.Error("import image archive", zap.Error(err))
		return
	}
	w.imported[path] = st
	refs := make([]string, 0, len(imgs))
	for _, i := range imgs {
		refs = append(refs, i.Ref)
	}
	log.Info("imported image archive", zap.Strings("images", refs), zap.Duration("took", w.o.Clock.Since(start)))
}

// ImportOptions bound and guard one import.
type ImportOptions struct {
	// MaxSize caps the archive's bytes as read, its bytes once
	// decompressed, and the sum of the sizes of the files in its tar (a
	// sparse file takes little room in a tar and its full size in the
	// content store). 0: no cap.
	MaxSize int64
	// Runtime guards the names the import may move.
	Runtime runtime.ImportOptions
}

// ErrTooLarge is returned (wrapped) for an archive over ImportOptions.MaxSize.
var ErrTooLarge = errors.New("image archive too large")

// ImportFile opens an archive and imports it with rt.
func ImportFile(ctx context.Context, rt runtime.Runtime, path string, o ImportOptions) ([]runtime.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := Import(ctx, rt, f, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return imgs, nil
}

// Import imports an archive stream, plain or gzip/zstd-compressed
// (containerd's importer itself reads a plain tar), within o's bounds.
func Import(ctx context.Context, rt runtime.Runtime, r io.Reader, o ImportOptions) ([]runtime.Image, error) {
	if o.MaxSize > 0 {
		r = &capReader{r: r, left: o.MaxSize, what: "the archive"}
	}
	dr, err := compression.DecompressStream(r)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	var tr io.Reader = dr
	if o.MaxSize > 0 {
		tc := newTarCheck(&capReader{r: dr, left: o.MaxSize, what: "the decompressed archive"}, o.MaxSize)
		defer tc.Close()
		tr = tc
	}
	return rt.ImportImage(ctx, tr, o.Runtime)
}

// capReader fails a read that would go past left bytes.
type capReader struct {
	r    io.Reader
	left int64
	what string
	max  int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.max == 0 {
		c.max = c.left
	}
	if c.left <= 0 {
		// One byte more tells a stream of exactly the cap from a longer one.
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("%s is over the limit of %d bytes (max-image-import-size): %w", c.what, c.max, ErrTooLarge)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// tarCheck passes a tar stream through unchanged while a second reader
// walks its headers, failing the stream once the files' sizes add up to
// more than max. It looks only at headers and skips the data, so holes in
// sparse files cost it nothing and the sum stops it at the first header
// over the limit.
type tarCheck struct {
	src  io.Reader
	pw   *io.PipeWriter
	done chan error
	err  error
}

func newTarCheck(src io.Reader, max int64) *tarCheck {
	pr, pw := io.Pipe()
	t := &tarCheck{src: src, pw: pw, done: make(chan error, 1)}
	go func() {
		err := sumTar(pr, max)
		// Whatever stopped the walk also stops the stream's writer.
		pr.CloseWithError(err)
		t.done <- err
	}()
	return t
}

// sumTar reads a tar's headers until the end, and then the stream's rest.
func sumTar(r io.Reader, limit int64) error {
	tr := tar.NewReader(r)
	var sum int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, err = io.Copy(io.Discard, r)
			return err
		}
		if err != nil {
			// A broken tar is the importer's to report; stop checking.
			_, err = io.Copy(io.Discard, r)
			return err
		}
		sum += max(hdr.Size, 0)
		if sum > limit {
			return fmt.Errorf("the files in the archive add up to more than the limit of %d bytes (max-image-import-size; %s alone is %d): %w", limit, hdr.Name, hdr.Size, ErrTooLarge)
		}
	}
}

func (t *tarCheck) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.src.Read(p)
	if n > 0 {
		if _, werr := t.pw.Write(p[:n]); werr != nil {
			t.err = werr
			return 0, werr
		}
	}
	if errors.Is(err, io.EOF) {
		t.pw.Close()
		if cerr := <-t.done; cerr != nil {
			t.err = cerr
			return n, cerr
		}
		t.err = io.EOF
	} else if err != nil {
		t.err = err
	}
	return n, err
}

// Close ends the checker's walk (the import may stop reading early).
func (t *tarCheck) Close() {
	t.pw.CloseWithError(errors.New("import ended"))
}
