package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shimWriter opens the FIFO for writing as the runc shim does (a blocking
// open, which our read end lets through at once).
func shimWriter(t *testing.T, path string) *os.File {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open fifo for writing: %v", err)
	}
	return w
}

// runExec plays one exec against o: the shim's stdout and stderr writers
// write and close, the process exits, and the output is read to the end.
func runExec(t *testing.T, o *execOutput, stdout, stderr string) []byte {
	t.Helper()
	wout, werr := shimWriter(t, o.path()), shimWriter(t, o.path())
	for _, w := range []struct {
		f *os.File
		s string
	}{{wout, stdout}, {werr, stderr}} {
		if _, err := w.f.WriteString(w.s); err != nil {
			t.Fatal(err)
		}
		_ = w.f.Close()
	}
	o.exited()
	if !o.wait(after(t, 5*time.Second)) {
		t.Fatal("copy did not end after every writer closed")
	}
	return o.finish()
}

// after is a channel that closes in d, as a context's Done does.
func after(t *testing.T, d time.Duration) <-chan struct{} {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx.Done()
}

func fifos(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestExecOutputCollectsUntilShimCloses(t *testing.T) {
	pool := newExecFIFOs(t.TempDir(), "ns-exec-")
	defer pool.close()
	o, err := newExecOutput(pool, MaxExecOutput)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(o.path()); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("no FIFO at %s: %v", o.path(), err)
	}
	// Before the shim opens its end the copy must not see end of file:
	// our own write end keeps it open.
	select {
	case <-o.done:
		t.Fatal("copy ended before any writer opened the FIFO")
	case <-time.After(50 * time.Millisecond):
	}
	// stdout and stderr: two writers on the one FIFO.
	stdout, stderr := shimWriter(t, o.path()), shimWriter(t, o.path())
	if _, err := stdout.WriteString("out\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := stderr.WriteString("err\n"); err != nil {
		t.Fatal(err)
	}
	_ = stdout.Close()
	o.exited()
	select {
	case <-o.done:
		t.Fatal("copy ended while stderr was still open")
	case <-time.After(50 * time.Millisecond):
	}
	_ = stderr.Close()
	if !o.wait(after(t, 5*time.Second)) {
		t.Fatal("copy did not end after every writer closed")
	}
	if got := string(o.finish()); got != "out\nerr\n" {
		t.Errorf("output = %q, want %q", got, "out\nerr\n")
	}
}

func TestExecOutputReusesCleanFIFOs(t *testing.T) {
	dir := t.TempDir()
	pool := newExecFIFOs(dir, "ns-exec-")
	o, err := newExecOutput(pool, MaxExecOutput)
	if err != nil {
		t.Fatal(err)
	}
	first := o.path()
	if got := string(runExec(t, o, "one\n", "")); got != "one\n" {
		t.Errorf("first output = %q", got)
	}
	o.release(true)
	o.release(true) // a second release does nothing

	// The next exec gets the same FIFO, and none of the last one's output.
	o, err = newExecOutput(pool, MaxExecOutput)
	if err != nil {
		t.Fatal(err)
	}
	if o.path() != first {
		t.Errorf("second exec got FIFO %s, want %s again", o.path(), first)
	}
	if got := string(runExec(t, o, "", "two\n")); got != "two\n" {
		t.Errorf("second output = %q", got)
	}
	o.release(true)
	if got := fifos(t, dir); len(got) != 1 {
		t.Errorf("FIFOs in the directory = %v, want the one", got)
	}
	pool.close()
	if got := fifos(t, dir); len(got) != 0 {
		t.Errorf("FIFOs left after close = %v", got)
	}
}

func TestExecOutputDiscardsUncleanFIFOs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deleted bool
		// leaveWriter: a child of the command still holds its output.
		leaveWriter bool
	}{
		{"process not deleted", false, false},
		{"writer left open", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pool := newExecFIFOs(dir, "ns-exec-")
			defer pool.close()
			o, err := newExecOutput(pool, MaxExecOutput)
			if err != nil {
				t.Fatal(err)
			}
			w := shimWriter(t, o.path())
			defer w.Close()
			if _, err := w.WriteString("partial"); err != nil {
				t.Fatal(err)
			}
			if !tc.leaveWriter {
				_ = w.Close()
			}
			o.exited()
			giveUp := make(chan struct{})
			close(giveUp)
			if tc.leaveWriter && o.wait(giveUp) {
				t.Fatal("wait reported all output read while a writer is open")
			}
			done := make(chan []byte, 1)
			go func() { done <- o.finish() }()
			select {
			case got := <-done:
				// What arrived may or may not have been read yet; it is
				// never more than was written.
				if !strings.HasPrefix("partial", string(got)) {
					t.Errorf("output = %q", got)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("finish blocked on a FIFO with a writer left open")
			}
			o.release(tc.deleted)
			if got := fifos(t, dir); len(got) != 0 {
				t.Errorf("FIFOs left = %v, want the unclean one removed", got)
			}
			next, err := newExecOutput(pool, MaxExecOutput)
			if err != nil {
				t.Fatal(err)
			}
			if next.path() == o.path() {
				t.Error("an unclean FIFO was reused")
			}
			next.release(false)
		})
	}
}

func TestExecOutputCapsButDrains(t *testing.T) {
	pool := newExecFIFOs(t.TempDir(), "ns-exec-")
	defer pool.close()
	o, err := newExecOutput(pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer o.release(false)
	w := shimWriter(t, o.path())
	// Far more than a pipe holds: the writer would block if the copy
	// stopped reading at the cap.
	big := bytes.Repeat([]byte("x"), 1<<20)
	written := make(chan error, 1)
	go func() {
		_, err := w.Write(big)
		_ = w.Close()
		written <- err
	}()
	select {
	case err := <-written:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writer blocked: the copy stopped draining at the cap")
	}
	o.exited()
	if !o.wait(after(t, 5*time.Second)) {
		t.Fatal("copy did not end")
	}
	if got := string(o.finish()); got != strings.Repeat("x", 10) {
		t.Errorf("output = %q, want 10 bytes", got)
	}
}

func TestExecOutputRecoversFromRemovedFIFOs(t *testing.T) {
	// As on a host whose /run was emptied since: the directory is made
	// again, and a free FIFO whose file is gone is replaced.
	dir := filepath.Join(t.TempDir(), "run", "fifo")
	pool := newExecFIFOs(dir, "ns-exec-")
	defer pool.close()
	o, err := newExecOutput(pool, MaxExecOutput)
	if err != nil {
		t.Fatal(err)
	}
	runExec(t, o, "", "")
	o.release(true)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	o, err = newExecOutput(pool, MaxExecOutput)
	if err != nil {
		t.Fatalf("after the directory was removed: %v", err)
	}
	if got := string(runExec(t, o, "back\n", "")); got != "back\n" {
		t.Errorf("output = %q", got)
	}
	o.release(true)
}

func TestExecFIFOsBounded(t *testing.T) {
	dir := t.TempDir()
	pool := newExecFIFOs(dir, "ns-exec-")
	defer pool.close()
	var outs []*execOutput
	for range maxFreeExecFIFOs + 3 {
		o, err := newExecOutput(pool, MaxExecOutput)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, o)
	}
	for _, o := range outs {
		runExec(t, o, "", "")
		o.release(true)
	}
	if got := len(fifos(t, dir)); got != maxFreeExecFIFOs {
		t.Errorf("%d FIFOs kept, want at most %d", got, maxFreeExecFIFOs)
	}
}

func TestCappedBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"under", 10, []string{"abc", "def"}, "abcdef"},
		{"exact", 6, []string{"abc", "def"}, "abcdef"},
		{"split write", 4, []string{"abc", "def"}, "abcd"},
		{"past the cap", 3, []string{"abc", "def"}, "abc"},
		{"zero", 0, []string{"abc"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := cappedBuffer{max: tc.max}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want all accepted", w, n, err)
				}
			}
			if got := string(b.buf); got != tc.want {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
		})
	}
}

// TestExecFIFOsRemoveStale: a new daemon removes the FIFOs with its own
// prefix that a dead one left, and nothing else.
func TestExecFIFOsRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ns-0000abcd-exec-1", "ns-0000abcd-exec-2", "other-0000abcd-exec-1", "ns-ffff0000-exec-1"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A regular file with the prefix is not ours to remove.
	if err := os.WriteFile(filepath.Join(dir, "ns-0000abcd-exec-file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := newExecFIFOs(dir, "ns-0000abcd-exec-")
	if n, err := p.removeStale(); err != nil || n != 2 {
		t.Fatalf("removed %d, err %v; want 2", n, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{"ns-0000abcd-exec-file", "ns-ffff0000-exec-1", "other-0000abcd-exec-1"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}
