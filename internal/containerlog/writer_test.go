package containerlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var baseTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// stepClock returns a clock that starts at baseTime and advances one second
// per call.
func stepClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return baseTime.Add(time.Duration(n-1) * time.Second)
	}
}

// writeLog streams each (stream, text) pair into a new log at path.
func writeLog(t *testing.T, spec LoggerSpec, pairs ...string) {
	t.Helper()
	w, err := NewWriter(spec, stepClock())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(pairs); i += 2 {
		if err := w.Stream(pairs[i], strings.NewReader(pairs[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, path string, opts ReadOptions) string {
	t.Helper()
	var sb strings.Builder
	if err := Read(context.Background(), path, opts, &sb, nil); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return sb.String()
}

func TestWriterFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "0.log")
	writeLog(t, LoggerSpec{Path: path}, "stdout", "hello\n\nworld\n", "stderr", "oops")

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "2024-05-01T12:00:00Z stdout F hello\n" +
		"2024-05-01T12:00:01Z stdout F \n" +
		"2024-05-01T12:00:02Z stdout F world\n" +
		"2024-05-01T12:00:03Z stderr P oops\n"
	if string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	if got := readAll(t, path, ReadOptions{}); got != "hello\n\nworld\noops" {
		t.Errorf("Read = %q", got)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v", fi.Mode())
	}
}

func TestWriterLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	long := strings.Repeat("x", 2*maxLineSize+10)
	writeLog(t, LoggerSpec{Path: path}, "stdout", long+"\nshort\n")

	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var tags []string
	for _, l := range lines {
		f := strings.SplitN(l, " ", 4)
		tags = append(tags, f[2])
		if len(f[3]) > maxLineSize {
			t.Errorf("record content of %d bytes", len(f[3]))
		}
	}
	if got := strings.Join(tags, ""); got != "PPFF" {
		t.Errorf("tags = %s, want PPFF", got)
	}
	if got := readAll(t, path, ReadOptions{}); got != long+"\nshort\n" {
		t.Errorf("joined read differs (len %d)", len(got))
	}
	// Timestamps appear once per logical line, not once per chunk.
	got := readAll(t, path, ReadOptions{Timestamps: true})
	want := "2024-05-01T12:00:00Z " + long + "\n2024-05-01T12:00:03Z short\n"
	if got != want {
		t.Errorf("timestamped read differs: %.80q", got)
	}
}

func TestWriterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	// Each record is 33 bytes ("2024-05-01T12:00:0NZ stdout F lN\n");
	// 70 bytes hold two.
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "l%d\n", i)
	}
	writeLog(t, LoggerSpec{Path: path, MaxSize: 70, MaxFiles: 3}, "stdout", in.String())

	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "0.log 0.log.1 0.log.2" {
		t.Fatalf("files = %s", got)
	}
	for name, want := range map[string]string{
		"0.log":   "l8\nl9\n",
		"0.log.1": "l6\nl7\n",
		"0.log.2": "l4\nl5\n",
	} {
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Size() > 70 {
			t.Errorf("%s has %d bytes", name, fi.Size())
		}
		if got := readAll(t, filepath.Join(dir, name), ReadOptions{}); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestWriterRecoversFromFailedRotation: a rotation that cannot reopen the
// file (here its directory is gone for a moment) loses that record, and
// the log resumes once a file can be opened again (review #19: every
// later write used to fail until the container exited).
func TestWriterRecoversFromFailedRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "0.log")
	w, err := NewWriter(LoggerSpec{Path: path, MaxSize: 40, MaxFiles: 2}, stepClock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Stream("stdout", strings.NewReader("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := w.Stream("stdout", strings.NewReader("lost\n")); err == nil {
		t.Fatal("a rotation with the directory gone succeeded")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := w.Stream("stdout", strings.NewReader("back\n")); err != nil {
		t.Fatalf("write after the directory came back: %v", err)
	}
	if got := readAll(t, path, ReadOptions{}); got != "back\n" {
		t.Errorf("log after recovery = %q, want %q", got, "back\n")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Stream("stdout", strings.NewReader("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
}

func TestWriterRotationKeepsNoneWithOneFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	writeLog(t, LoggerSpec{Path: path, MaxSize: 40, MaxFiles: 1}, "stdout", "a\nb\nc\n")
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files, want 1", len(entries))
	}
	if got := readAll(t, path, ReadOptions{}); got != "c\n" {
		t.Errorf("got %q", got)
	}
}

func TestWriterAppendsAndConcurrentStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, LoggerSpec{Path: path}, "stdout", "first\n")

	w, err := NewWriter(LoggerSpec{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("y", 1000) + "\n"
	var wg sync.WaitGroup
	for _, s := range []string{"stdout", "stderr"} {
		wg.Go(func() {
			if err := w.Stream(s, strings.NewReader(strings.Repeat(line, 200))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	w.Close()
	if err := w.Stream("stdout", strings.NewReader("late\n")); err == nil {
		t.Error("write after Close succeeded")
	}

	got := readAll(t, path, ReadOptions{})
	if !strings.HasPrefix(got, "first\n") || len(got) != len("first\n")+400*len(line) {
		t.Fatalf("read %d bytes", len(got))
	}
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n")[1:] {
		if l+"\n" != line {
			t.Fatalf("interleaved record: %.40q", l)
		}
	}
}
