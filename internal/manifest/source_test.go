package manifest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	testingclock "k8s.io/utils/clock/testing"
)

const (
	testDebounce = 100 * time.Millisecond
	testRescan   = time.Hour // far away unless a test steps to it on purpose
	waitLimit    = 5 * time.Second
)

// harness runs a Source on a fake clock. Nothing is debounced or rescanned
// until the test moves the clock, which makes bursts deterministic: every
// file operation a test performs before calling next is one burst.
type harness struct {
	t   *testing.T
	dir string
	fc  *testingclock.FakeClock
	out chan Update
}

func startSource(t *testing.T, dir string) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir, fc: testingclock.NewFakeClock(time.Unix(1_700_000_000, 0)), out: make(chan Update)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	src := NewSource(SourceOptions{
		Dir: dir, NodeName: node, Rescan: testRescan, Debounce: testDebounce,
		Clock: h.fc, Logger: zaptest.NewLogger(t),
	})
	go func() {
		defer close(done)
		src.Run(ctx, h.out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// first returns the Update sent at start, then waits until the rescan
// ticker exists so that later clock steps reach it.
func (h *harness) first() Update {
	h.t.Helper()
	var u Update
	select {
	case u = <-h.out:
	case <-time.After(waitLimit):
		h.t.Fatal("no initial update")
	}
	h.waitFor(func() bool { return h.fc.Waiters() >= 1 }, "rescan ticker")
	return u
}

func (h *harness) waitFor(cond func() bool, what string) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// next fires the debounce timer whenever an event has armed it (the ticker
// is the one other waiter) and returns the first Update that comes out.
func (h *harness) next() Update {
	h.t.Helper()
	deadline := time.After(waitLimit)
	for {
		if h.fc.Waiters() > 1 {
			h.fc.Step(testDebounce)
		}
		select {
		case u := <-h.out:
			return u
		case <-deadline:
			h.t.Fatal("timed out waiting for an update")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// none checks that no Update comes out for a while, firing any armed
// debounce timer meanwhile.
func (h *harness) none() {
	h.t.Helper()
	deadline := time.After(200 * time.Millisecond)
	for {
		if h.fc.Waiters() > 1 {
			h.fc.Step(testDebounce)
		}
		select {
		case u := <-h.out:
			h.t.Fatalf("unexpected update: %d pods, problems %v", len(u.Pods), u.Problems)
		case <-deadline:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// unwaited returns the Update that comes out without the clock moving:
// one the Source sent before the directory was quiet.
func (h *harness) unwaited() Update {
	h.t.Helper()
	select {
	case u := <-h.out:
		return u
	case <-time.After(waitLimit):
		h.t.Fatal("no update without waiting for the directory to be quiet")
		return Update{}
	}
}

// waits checks that no Update comes out while the clock stands still, for
// a while: the Source is waiting for the directory to be quiet.
func (h *harness) waits() {
	h.t.Helper()
	select {
	case u := <-h.out:
		h.t.Fatalf("update before the directory was quiet: pods %q", names(u))
	case <-time.After(200 * time.Millisecond):
	}
}

// rescan moves the clock to the next periodic rescan.
func (h *harness) rescan() {
	h.fc.Step(testRescan)
}

func names(u Update) string {
	var out []string
	for _, p := range u.Pods {
		out = append(out, p.Pod.Name)
	}
	return strings.Join(out, ",")
}

func TestSourceLifecycle(t *testing.T) {
	dir := t.TempDir()
	h := startSource(t, dir)
	if u := h.first(); len(u.Pods) != 0 || len(u.Problems) != 0 {
		t.Fatalf("initial update of an empty directory: %+v", u)
	}

	// create
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.27"))
	u := h.next()
	if names(u) != "web" {
		t.Fatalf("after create: pods %q", names(u))
	}
	uid1 := u.Pods[0].Pod.UID

	// an unchanged rescan sends nothing
	h.rescan()
	h.none()

	// modify in place: one update, new UID
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.28"))
	u = h.next()
	if names(u) != "web" || u.Pods[0].Pod.UID == uid1 {
		t.Fatalf("after modify: pods %q, uid %s (old %s)", names(u), u.Pods[0].Pod.UID, uid1)
	}
	h.none()

	// ignored files send nothing
	writeFile(t, dir, "web.yaml~", podYAML("backup", "nginx"))
	writeFile(t, dir, ".web.yaml.swp", "\x00\x01binary")
	writeFile(t, dir, "notes.txt", "hello")
	writeFile(t, dir, "web.yaml.dpkg-old", podYAML("old", "nginx"))
	h.none()

	// remove
	if err := os.Remove(filepath.Join(dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	u = h.next()
	if len(u.Pods) != 0 {
		t.Fatalf("after remove: pods %q", names(u))
	}
}

func TestSourceAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.27"))
	writeFile(t, dir, "db.yaml", podYAML("db", "postgres:16"))
	h := startSource(t, dir)
	u := h.first()
	if names(u) != "db,web" {
		t.Fatalf("initial pods %q", names(u))
	}
	oldUID := u.Pods[1].Pod.UID

	for _, tc := range []struct {
		name    string
		replace func()
	}{
		{"write temp file and rename over", func() {
			tmp := writeFile(t, dir, ".web.yaml.tmp", podYAML("web", "nginx:1.28"))
			if err := os.Rename(tmp, filepath.Join(dir, "web.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{"temp file with a random name", func() {
			tmp := writeFile(t, dir, "web.yaml.8f3k2", podYAML("web", "nginx:1.29"))
			if err := os.Rename(tmp, filepath.Join(dir, "web.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete then create (vim backupcopy=no)", func() {
			if err := os.Rename(filepath.Join(dir, "web.yaml"), filepath.Join(dir, "web.yaml~")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.30"))
			if err := os.Remove(filepath.Join(dir, "web.yaml~")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.replace()
			// The first update after the burst must already hold the new
			// pod: an update without it would make the caller kill the pod
			// and start it again as if it had been deleted and recreated.
			u := h.next()
			if names(u) != "db,web" {
				t.Fatalf("pods %q, want db,web", names(u))
			}
			if u.Pods[1].Pod.UID == oldUID {
				t.Fatal("web kept its UID after its manifest changed")
			}
			oldUID = u.Pods[1].Pod.UID
			h.none()
		})
	}
}

func TestSourceProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bad.yaml", strings.Replace(minimalPod, "kind: Pod", "kind: Deployment", 1))
	h := startSource(t, dir)
	u := h.first()
	if len(u.Pods) != 0 || len(u.Problems) != 1 || len(u.NewProblems) != 1 {
		t.Fatalf("initial: %+v", u)
	}

	// The same problem again: nothing to send, so no second Warning event.
	h.rescan()
	h.none()

	// Another change: the old problem is still listed but is not new.
	writeFile(t, dir, "good.yaml", podYAML("good", "nginx:1.27"))
	u = h.next()
	if names(u) != "good" || len(u.Problems) != 1 || len(u.NewProblems) != 0 {
		t.Fatalf("after adding good.yaml: pods %q problems %v new %v", names(u), u.Problems, u.NewProblems)
	}

	// A different problem in the same file is new.
	writeFile(t, dir, "bad.yaml", minimalPod+"    imagee: x\n")
	u = h.next()
	if len(u.NewProblems) != 1 || u.NewProblems[0].Field != "spec.containers[0].imagee" {
		t.Fatalf("after changing bad.yaml: new problems %v", u.NewProblems)
	}
	// ... and a duplicate is reported against the later file.
	writeFile(t, dir, "zz.yaml", podYAML("good", "nginx:1.27"))
	u = h.next()
	if len(u.NewProblems) != 1 || !strings.Contains(u.NewProblems[0].Reason, "good.yaml") {
		t.Fatalf("duplicate: new problems %v", u.NewProblems)
	}
}

// TestSourceRescan covers what inotify cannot see: the manifest is a
// symlink and the file it points to, outside the directory, changes.
func TestSourceRescan(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	target := writeFile(t, outside, "web.yaml", podYAML("web", "nginx:1.27"))
	if err := os.Symlink(target, filepath.Join(dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	h := startSource(t, dir)
	u := h.first()
	if names(u) != "web" {
		t.Fatalf("initial pods %q", names(u))
	}
	oldUID := u.Pods[0].Pod.UID

	writeFile(t, outside, "web.yaml", podYAML("web", "nginx:1.28"))
	h.none() // no event in the watched directory

	h.rescan()
	u = h.next()
	if names(u) != "web" || u.Pods[0].Pod.UID == oldUID {
		t.Fatalf("after rescan: pods %q uid %s (old %s)", names(u), u.Pods[0].Pod.UID, oldUID)
	}
}

func TestSourceMissingDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "manifests")
	h := startSource(t, dir)
	u := h.first()
	if len(u.Pods) != 0 || u.Listed || !errors.Is(u.DirErr, fs.ErrNotExist) ||
		len(u.Problems) != 1 || u.Problems[0].File != dir || !strings.Contains(u.Problems[0].Reason, "does not exist") {
		t.Fatalf("initial update for a missing directory: %+v", u)
	}
	h.rescan()
	h.none() // still missing: nothing new

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.27"))
	h.rescan()
	if u := h.next(); names(u) != "web" || !u.Listed || u.DirErr != nil || len(u.Problems) != 0 {
		t.Fatalf("after the directory appeared: %+v", u)
	}

	// The directory is watched now: a change shows without a rescan.
	writeFile(t, dir, "db.yaml", podYAML("db", "postgres:16"))
	if u := h.next(); names(u) != "db,web" {
		t.Fatalf("after adding db.yaml: pods %q", names(u))
	}

	// Removing the directory keeps the pods: only a directory that was
	// read may remove them...
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if u := h.next(); names(u) != "db,web" || !u.Listed || !errors.Is(u.DirErr, fs.ErrNotExist) {
		t.Fatalf("after removing the directory: pods %q listed %v err %v", names(u), u.Listed, u.DirErr)
	}
	// ... and recreating it is picked up again by the rescan.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.27"))
	h.rescan()
	if u := h.next(); names(u) != "web" || u.DirErr != nil {
		t.Fatalf("after recreating the directory: pods %q err %v", names(u), u.DirErr)
	}
	writeFile(t, dir, "db.yaml", podYAML("db", "postgres:16"))
	if u := h.next(); names(u) != "db,web" {
		t.Fatalf("watch not re-added: pods %q", names(u))
	}
}

// TestSourceUnreadableAtStart covers a daemon that starts while its
// directory cannot be read (here a symlink loop, ELOOP): the update says
// nothing was listed, so the receiver removes nothing, until the
// directory is readable again.
func TestSourceUnreadableAtStart(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "manifests")
	if err := os.Symlink("manifests", dir); err != nil {
		t.Fatal(err)
	}
	h := startSource(t, dir)
	u := h.first()
	if len(u.Pods) != 0 || u.Listed || !errors.Is(u.DirErr, syscall.ELOOP) ||
		len(u.Problems) != 1 || !strings.Contains(u.Problems[0].Reason, "too many levels of symbolic links") {
		t.Fatalf("initial update for an unreadable directory: %+v", u)
	}
	h.rescan()
	h.none()

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.27"))
	h.rescan()
	if u := h.next(); names(u) != "web" || !u.Listed || u.DirErr != nil || len(u.Problems) != 0 {
		t.Fatalf("after the directory became readable: %+v", u)
	}
}

func TestSourceUnreadableDirectoryKeepsPods(t *testing.T) {
	// A file where the directory should be gives ENOTDIR, an error other
	// than "does not exist", without needing root or chmod tricks.
	parent := t.TempDir()
	dir := filepath.Join(parent, "manifests")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.27"))
	h := startSource(t, dir)
	if u := h.first(); names(u) != "web" {
		t.Fatalf("initial pods %q", names(u))
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, parent, "manifests", "not a directory")
	u := h.next()
	if names(u) != "web" || len(u.Problems) != 1 || u.Problems[0].File != dir || !strings.Contains(u.Problems[0].Reason, "not a directory") {
		t.Fatalf("pods %q problems %v", names(u), u.Problems)
	}
}

// TestSourceWholeFileNoWait covers the early scan: a manifest renamed into
// the directory is read at once, without the debounce; a file still open
// for writing, a removal and a rename away wait for the directory to be
// quiet.
func TestSourceWholeFileNoWait(t *testing.T) {
	if maybeBeingWritten(writeFile(t, t.TempDir(), "probe.yaml", "x")) {
		t.Skip("no file leases here; every change waits for the debounce")
	}
	dir := t.TempDir()
	h := startSource(t, dir)
	h.first()

	// Renamed into place: scanned at once.
	tmp := writeFile(t, dir, ".web.yaml.tmp", podYAML("web", "nginx:1.27"))
	if err := os.Rename(tmp, filepath.Join(dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	if u := h.unwaited(); names(u) != "web" {
		t.Fatalf("after rename: pods %q", names(u))
	}
	h.none() // the quiet scan that follows finds nothing new

	// Created in place and still open for writing: only the quiet scan
	// reads it, and by then its writer is done.
	f, err := os.Create(filepath.Join(dir, "db.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(podYAML("db", "postgres:16")[:20]); err != nil {
		t.Fatal(err)
	}
	h.waits()
	if _, err := f.WriteString(podYAML("db", "postgres:16")[20:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if u := h.next(); names(u) != "db,web" || len(u.Problems) != 0 {
		t.Fatalf("after writing db.yaml: pods %q problems %v", names(u), u.Problems)
	}

	// A removal waits: the file may be coming back (see
	// TestSourceAtomicReplace).
	if err := os.Remove(filepath.Join(dir, "db.yaml")); err != nil {
		t.Fatal(err)
	}
	h.waits()
	if u := h.next(); names(u) != "web" {
		t.Fatalf("after removing db.yaml: pods %q", names(u))
	}

	// A burst that mixes a whole file with a write waits for the write.
	writeFile(t, dir, "web.yaml", podYAML("web", "nginx:1.28"))
	tmp = writeFile(t, dir, ".db.yaml.tmp", podYAML("db", "postgres:17"))
	if err := os.Rename(tmp, filepath.Join(dir, "db.yaml")); err != nil {
		t.Fatal(err)
	}
	h.waits()
	if u := h.next(); names(u) != "db,web" {
		t.Fatalf("after the mixed burst: pods %q", names(u))
	}
}

func TestMaybeBeingWritten(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "web.yaml", "x")
	if maybeBeingWritten(p) {
		t.Skip("no file leases here")
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !maybeBeingWritten(p) {
		t.Error("a file open for writing is reported as finished")
	}
	f.Close()
	if maybeBeingWritten(p) {
		t.Error("a closed file is reported as being written")
	}
	for _, p := range []string{filepath.Join(dir, "missing.yaml"), dir} {
		if !maybeBeingWritten(p) {
			t.Errorf("%s: reported as finished", p)
		}
	}
}
