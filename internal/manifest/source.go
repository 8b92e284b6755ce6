package manifest

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Defaults for SourceOptions.
const (
	DefaultRescan   = 20 * time.Second
	DefaultDebounce = 100 * time.Millisecond
	// maxDebounceFactor bounds how long a burst can postpone a scan, in
	// units of Debounce: a file rewritten without pause is still picked up.
	maxDebounceFactor = 20
)

// Update is the full desired state of the manifest directory.
type Update struct {
	// Pods are the pods that should run, in file name then document order.
	Pods []Pod
	// Problems are every rejected document or file, in the same order.
	Problems []Problem
	// NewProblems are the Problems that were not in the previous Update
	// (compared by their Error text). The caller emits one Warning event
	// and one log line for each, so an unchanged broken file is reported
	// once, not at every rescan.
	NewProblems []Problem
	// Listed is true once the directory has been read successfully at
	// least once: Pods is then the desired state. Until then Pods is empty
	// and says nothing, so the receiver must not remove anything (a daemon
	// that starts while the directory is unreadable must leave every
	// running pod alone).
	Listed bool
	// DirErr is why the directory could not be read in this scan (missing,
	// unreadable, not a directory: the errno, such as ENOENT or ELOOP); nil
	// when it was read. Pods are then those of the last successful read.
	DirErr error
}

// SourceOptions configure a Source. Zero values get defaults.
type SourceOptions struct {
	// Dir is the manifest directory.
	Dir string
	// NodeName goes into spec.nodeName and the UIDs.
	NodeName string
	// Rescan is the period of the full rescan that repairs anything inotify
	// missed (default DefaultRescan).
	Rescan time.Duration
	// Debounce is how long the directory must be quiet after an event
	// before it is scanned (default DefaultDebounce). It coalesces the
	// write, rename and chmod of one editor save into one Update.
	Debounce time.Duration
	// Clock drives the debounce and the rescan (default the real clock).
	Clock clock.WithTicker
	// Logger receives the source's logs, used as given: the caller names
	// it (default none).
	Logger *zap.Logger
}

// Source watches the manifest directory and sends its full desired state
// after every change.
type Source struct {
	o   SourceOptions
	log *zap.Logger
}

// NewSource returns a Source; call Run to start it.
func NewSource(o SourceOptions) *Source {
	if o.Rescan <= 0 {
		o.Rescan = DefaultRescan
	}
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	// The caller names the logger (daemon passes log.Named("manifest")).
	return &Source{o: o, log: o.Logger.With(zap.String("dir", o.Dir))}
}

// runState is what Run remembers between scans.
type runState struct {
	watcher  *fsnotify.Watcher // nil when inotify is unavailable
	watching bool              // the directory is in the watch list
	sent     bool              // an Update was sent at least once
	last     Update            // the last Update sent
	lastKey  string            // its fingerprint, see key
	lastErr  string            // the last directory error logged
	listed   bool              // the directory was read successfully once
	cache    *parseCache       // the parses of the last scan
}

// Run blocks until ctx is done. It sends an Update at once, then after every
// burst of inotify events and at every Rescan, but only when the state
// differs from the last Update sent: same pods (by UID) and same problems
// send nothing.
//
// A burst is scanned once the directory has been quiet for Debounce, so
// that a file written in place (truncated, then written in pieces) is not
// read half-written: a half file can parse as a changed pod, which would
// restart it. One kind of event needs no wait: a manifest file that
// arrives whole, created in the directory or renamed into it (the atomic
// way to install a file) while no process has it open for writing any
// more. As long as every event of the burst is of that kind, the directory
// is scanned at once, and again when it has been quiet (that scan usually
// finds nothing new). A removal or rename away waits like a write: an
// editor that renames the old file away and then writes the new one must
// produce one update, not a deletion and a creation.
//
// A directory that cannot be read (missing, unreadable, not a directory)
// keeps the previous pods and adds a Problem naming the directory and
// the cause; Run looks again at every rescan and watches the directory
// once it appears. Before the first successful read the Update has no
// pods and Listed false, which the receiver must not act on (see Update).
//
// Sends block until the receiver takes the Update or ctx is done; Run
// does not close out.
func (s *Source) Run(ctx context.Context, out chan<- Update) {
	st := &runState{cache: newParseCache()}
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	if w, err := fsnotify.NewWatcher(); err != nil {
		s.log.Warn("inotify unavailable, changes are seen only by the periodic rescan",
			zap.Duration("rescan", s.o.Rescan), zap.Error(err))
	} else {
		defer w.Close()
		st.watcher, events, errs = w, w.Events, w.Errors
	}

	if !s.sync(ctx, out, st) {
		return
	}
	ticker := s.o.Clock.NewTicker(s.o.Rescan)
	defer ticker.Stop()
	b := newBurst(s.o.Clock, s.o.Debounce)
	defer b.timer.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.note(ev, st, b)
			// Take the events already queued as well, so that manifests
			// renamed in together make one early scan, not one each.
		queued:
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						events = nil
						break queued
					}
					s.note(ev, st, b)
				default:
					break queued
				}
			}
			if b.whole && b.unread {
				b.unread = false
				s.log.Debug("manifest file arrived whole, scanning without waiting for the directory to be quiet")
				if !s.sync(ctx, out, st) {
					return
				}
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Typically fsnotify.ErrEventOverflow: events were lost, so
			// the directory is rescanned as if it had changed.
			s.log.Warn("inotify error, rescanning", zap.Error(err))
			b.add(false)
		case <-b.timer.C():
			b.end()
			if !s.sync(ctx, out, st) {
				return
			}
		case <-ticker.C():
			if !s.sync(ctx, out, st) {
				return
			}
		}
	}
}

// burst is what Run knows of the events since the directory was last quiet.
type burst struct {
	clock    clock.Clock
	debounce time.Duration
	timer    clock.Timer // fires once the directory has been quiet
	start    time.Time   // the burst's first event; zero when none is pending
	// whole is true while every event of the burst was a manifest file
	// arriving whole (see Run).
	whole bool
	// unread is true when such a file arrived after the last scan.
	unread bool
}

func newBurst(c clock.Clock, debounce time.Duration) *burst {
	b := &burst{clock: c, debounce: debounce, timer: c.NewTimer(debounce), whole: true}
	b.timer.Stop()
	return b
}

// add records an event and restarts the quiet period, but never waits
// more than maxDebounceFactor*debounce after the burst's first event: a
// file rewritten without pause is still picked up.
func (b *burst) add(arrivedWhole bool) {
	now := b.clock.Now()
	if b.start.IsZero() {
		b.start = now
	}
	b.whole = b.whole && arrivedWhole
	b.unread = b.unread || arrivedWhole
	wait := min(b.debounce, b.start.Add(maxDebounceFactor*b.debounce).Sub(now))
	b.timer.Reset(max(wait, 0))
}

// end starts a new burst; the caller scans the directory.
func (b *burst) end() {
	b.start, b.whole, b.unread = time.Time{}, true, false
}

// note records one inotify event in the burst if it can change the
// desired state. Events for ignored names (an editor's swap file, a .tmp
// being written) cannot: the rename that puts the file in place produces
// its own event.
func (s *Source) note(ev fsnotify.Event, st *runState, b *burst) {
	if filepath.Clean(ev.Name) == filepath.Clean(s.o.Dir) {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			// The watch is gone (or follows the directory to its new
			// name): forget it, sync re-adds the directory when it is
			// back.
			_ = st.watcher.Remove(s.o.Dir)
			st.watching = false
		}
		b.add(false)
		return
	}
	if Ignored(filepath.Base(ev.Name)) {
		return
	}
	// Create is both IN_CREATE and IN_MOVED_TO; a file created in place
	// is still open for writing when its event comes, unless its writer
	// has already finished.
	whole := ev.Op == fsnotify.Create && !maybeBeingWritten(ev.Name)
	s.log.Debug("manifest directory event", zap.String("name", ev.Name), zap.Stringer("op", ev.Op), zap.Bool("whole", whole))
	b.add(whole)
}

// sync scans the directory and sends an Update if the state changed. It
// returns false when ctx was cancelled while sending.
func (s *Source) sync(ctx context.Context, out chan<- Update, st *runState) bool {
	if st.watcher != nil && !st.watching {
		// Watch before scanning, so nothing changed in between is missed.
		if err := st.watcher.Add(s.o.Dir); err == nil {
			st.watching = true
			s.log.Info("watching manifest directory")
		} else if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot watch manifest directory, relying on the periodic rescan",
				zap.Duration("rescan", s.o.Rescan), zap.Error(err))
		}
	}

	pods, problems, err := scan(s.o.Dir, s.o.NodeName, st.cache)
	errText := ""
	if err != nil {
		// Missing or unreadable alike: only a successful read may remove
		// a pod. A directory that is briefly gone or unreadable (a late
		// mount, a bad deploy, EIO) must not stop every pod; an operator
		// stops pods by removing their files.
		errText = err.Error()
		if errText != st.lastErr {
			s.log.Error("cannot read manifest directory, keeping the current pods; looking again at each rescan",
				zap.Duration("rescan", s.o.Rescan), zap.Error(err))
		}
		// Copies, so the receiver may keep and change what it got before.
		pods = nil
		for _, p := range st.last.Pods {
			p.Pod = p.Pod.DeepCopy()
			pods = append(pods, p)
		}
		problems = append(nonDirProblems(st.last.Problems, s.o.Dir), Problem{File: s.o.Dir, Reason: dirReason(err)})
	}
	if err == nil && st.lastErr != "" {
		s.log.Info("manifest directory readable again")
	}
	st.lastErr = errText
	st.listed = st.listed || err == nil

	u := Update{Pods: pods, Problems: problems, Listed: st.listed}
	if err != nil {
		u.DirErr = pathErrorCause(err)
	}
	k := key(u)
	if st.sent && k == st.lastKey {
		return true
	}
	seen := map[string]bool{}
	for _, p := range st.last.Problems {
		seen[p.Error()] = true
	}
	for _, p := range problems {
		if !seen[p.Error()] {
			u.NewProblems = append(u.NewProblems, p)
			// Debug only: the caller logs and records each new problem as a
			// Warning event; a second log line would say the same.
			s.log.Debug("manifest rejected", zap.String("file", p.File), zap.Int("document", p.Doc+1),
				zap.String("field", p.Field), zap.String("reason", p.Reason))
		}
	}
	s.log.Info("manifest state changed", zap.Int("pods", len(pods)), zap.Int("problems", len(problems)))
	select {
	case out <- u:
		st.sent, st.last, st.lastKey = true, u, k
		return true
	case <-ctx.Done():
		return false
	}
}

// dirReason says why the directory could not be read, for the Problem.
func dirReason(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "the manifest directory does not exist; keeping the running pods"
	}
	return "cannot read the manifest directory: " + pathErrorCause(err).Error() + "; keeping the running pods"
}

// nonDirProblems drops the directory-level problem of a previous failed
// read, so repeated failures do not stack.
func nonDirProblems(ps []Problem, dir string) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.File != dir {
			out = append(out, p)
		}
	}
	return out
}

// key fingerprints an Update: pods by UID (a UID covers file, document and
// node) and problems by their text.
func key(u Update) string {
	var b strings.Builder
	for _, p := range u.Pods {
		b.WriteString(string(p.Pod.UID))
		b.WriteByte('\n')
	}
	b.WriteString("--\n")
	for _, p := range u.Problems {
		b.WriteString(p.Error())
		b.WriteByte('\n')
	}
	return b.String()
}
