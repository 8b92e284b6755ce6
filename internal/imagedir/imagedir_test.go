package imagedir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

func TestArchiveNames(t *testing.T) {
	for name, want := range map[string]bool{
		"app.tar": true, "app.tar.gz": true, "app.tgz": true, "app.tar.zst": true,
		".app.tar": false, "app.tar.part": false, "notes.txt": false, "app.zip": false,
	} {
		if got := Archive(name); got != want {
			t.Errorf("Archive(%q) = %v", name, got)
		}
	}
}

func TestImportsSettledArchivesOnce(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(time.Now())
	var imported []string
	fail := false
	w := New(Options{Dir: dir, Clock: clk, Logger: zaptest.NewLogger(t), Settle: 2 * time.Second,
		Import: func(_ context.Context, path string) ([]runtime.Image, error) {
			imported = append(imported, filepath.Base(path))
			if fail {
				return nil, errors.New("not an archive")
			}
			return []runtime.Image{{Ref: "localhost/x:1"}}, nil
		}})
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.tar", "one")
	write(".b.tar", "hidden, still being written")
	write("notes.txt", "not an archive")
	ctx := context.Background()
	if next := w.scan(ctx); next != 2*time.Second || len(imported) != 0 {
		t.Fatalf("first sight must wait to settle: next %v imported %v", next, imported)
	}
	// Still growing: the wait starts again.
	clk.Step(time.Second)
	write("a.tar", "one, more")
	w.scan(ctx)
	clk.Step(time.Second)
	w.scan(ctx)
	if len(imported) != 0 {
		t.Fatalf("imported a file that was still changing: %v", imported)
	}
	clk.Step(2 * time.Second)
	w.scan(ctx)
	if len(imported) != 1 || imported[0] != "a.tar" {
		t.Fatalf("imported %v", imported)
	}
	// Unchanged: never again.
	clk.Step(time.Minute)
	w.scan(ctx)
	w.scan(ctx)
	if len(imported) != 1 {
		t.Fatalf("imported again: %v", imported)
	}
	// A broken archive is tried once per version.
	fail = true
	write("c.tar", "junk")
	w.scan(ctx)
	clk.Step(3 * time.Second)
	w.scan(ctx)
	clk.Step(3 * time.Second)
	w.scan(ctx)
	if len(imported) != 2 {
		t.Fatalf("broken archive retried without a change: %v", imported)
	}
}

// TestForgetsRemovedArchives: what the watcher keeps of an archive
// (imported, failed, settling) goes when the file does, so the state
// stays as large as the directory, not as every archive ever seen; an
// archive that comes back is imported again.
func TestForgetsRemovedArchives(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(time.Now())
	var imported []string
	w := New(Options{Dir: dir, Clock: clk, Logger: zaptest.NewLogger(t), Settle: 2 * time.Second,
		Import: func(_ context.Context, path string) ([]runtime.Image, error) {
			imported = append(imported, filepath.Base(path))
			if filepath.Base(path) == "bad.tar" {
				return nil, errors.New("not an archive")
			}
			return []runtime.Image{{Ref: "localhost/x:1"}}, nil
		}})
	ctx := context.Background()
	for _, name := range []string{"good.tar", "bad.tar"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.scan(ctx)
	clk.Step(3 * time.Second)
	w.scan(ctx)
	if len(w.imported) != 1 || len(w.failed) != 1 {
		t.Fatalf("imported %v failed %v, want one each", w.imported, w.failed)
	}
	// Seen but not settled yet when it goes.
	if err := os.WriteFile(filepath.Join(dir, "new.tar"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.scan(ctx)
	for _, name := range []string{"good.tar", "bad.tar", "new.tar"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	w.scan(ctx)
	if n := len(w.imported) + len(w.failed) + len(w.pending) + len(w.seen); n != 0 {
		t.Fatalf("after the files went: imported %v failed %v pending %v seen %v, want all empty", w.imported, w.failed, w.pending, w.seen)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.tar"), []byte("good.tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.scan(ctx)
	clk.Step(3 * time.Second)
	w.scan(ctx)
	if len(imported) != 3 || imported[2] != "good.tar" {
		t.Fatalf("imports %v, want good.tar again after it came back", imported)
	}
}
