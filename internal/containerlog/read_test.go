package containerlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestReadOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	long := strings.Repeat("L", maxLineSize+5)
	// Clock: a=0s, long=1s,2s, c=3s, d=4s (P at EOF).
	writeLog(t, LoggerSpec{Path: path}, "stdout", "a\n"+long+"\nc\n", "stderr", "d")

	tests := []struct {
		name string
		opts ReadOptions
		want string
	}{
		{"all", ReadOptions{}, "a\n" + long + "\nc\nd"},
		{"tail 1", ReadOptions{TailLines: ptr[int64](1)}, "d"},
		{"tail 2", ReadOptions{TailLines: ptr[int64](2)}, "c\nd"},
		{"tail 3 joins chunks", ReadOptions{TailLines: ptr[int64](3)}, long + "\nc\nd"},
		{"tail more than lines", ReadOptions{TailLines: ptr[int64](100)}, "a\n" + long + "\nc\nd"},
		{"tail 0", ReadOptions{TailLines: ptr[int64](0)}, ""},
		{"timestamps", ReadOptions{Timestamps: true, TailLines: ptr[int64](2)},
			"2024-05-01T12:00:03Z c\n2024-05-01T12:00:04Z d"},
		{"since", ReadOptions{SinceTime: ptr(baseTime.Add(3 * time.Second))}, "c\nd"},
		{"since keeps whole long line", ReadOptions{SinceTime: ptr(baseTime.Add(500 * time.Millisecond))},
			long + "\nc\nd"},
		{"limit bytes", ReadOptions{LimitBytes: ptr[int64](4)}, "a\nLL"},
		{"limit with timestamps", ReadOptions{Timestamps: true, LimitBytes: ptr[int64](10)}, "2024-05-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readAll(t, path, tt.opts); got != tt.want {
				t.Errorf("got %.60q (len %d), want %.60q (len %d)", got, len(got), tt.want, len(tt.want))
			}
		})
	}
}

func TestReadSkipsMalformedAndIncomplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	data := "2024-05-01T12:00:00Z stdout F one\n" +
		"garbage\n" +
		"2024-05-01T12:00:01Z stdout X bad tag\n" +
		"2024-05-01T12:00:02Z stdout F two\n" +
		"2024-05-01T12:00:03Z stdout F incompl" // a record still being written
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, path, ReadOptions{}); got != "one\ntwo\n" {
		t.Errorf("got %q", got)
	}
	if got := readAll(t, path, ReadOptions{TailLines: ptr[int64](1)}); got != "two\n" {
		t.Errorf("tail got %q", got)
	}
}

func TestReadMissingFile(t *testing.T) {
	err := Read(context.Background(), filepath.Join(t.TempDir(), "nope.log"), ReadOptions{}, &bytes.Buffer{}, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitForOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output %q, want %q", b.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startFollow runs Read with Follow in the background; the returned channel
// gets its result.
func startFollow(t *testing.T, ctx context.Context, path string, opts ReadOptions, out *syncBuffer, stop func() bool) <-chan error {
	t.Helper()
	opts.Follow = true
	done := make(chan error, 1)
	go func() { done <- Read(ctx, path, opts, out, stop) }()
	return done
}

func TestReadFollowUntilStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := NewWriter(LoggerSpec{Path: path}, stepClock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Stream("stdout", strings.NewReader("old1\nold2\n"))

	var exited atomic.Bool
	out := &syncBuffer{}
	done := startFollow(t, context.Background(), path, ReadOptions{TailLines: ptr[int64](1)}, out, exited.Load)

	waitForOutput(t, out, "old2\n")
	w.Stream("stdout", strings.NewReader("new1\n"))
	waitForOutput(t, out, "old2\nnew1\n")
	w.Stream("stderr", strings.NewReader("half"))
	waitForOutput(t, out, "old2\nnew1\nhalf")

	// The last line is written just as the container is reported exited:
	// the reader must still deliver it.
	w.Stream("stdout", strings.NewReader("last\n"))
	exited.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after stop")
	}
	if got := out.String(); got != "old2\nnew1\nhalflast\n" {
		t.Errorf("output %q", got)
	}
}

func TestReadFollowAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	// Two 33-byte records per file.
	w, err := NewWriter(LoggerSpec{Path: path, MaxSize: 70, MaxFiles: 2}, stepClock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	var exited atomic.Bool
	out := &syncBuffer{}
	done := startFollow(t, context.Background(), path, ReadOptions{}, out, exited.Load)

	var want strings.Builder
	for batch := range 4 {
		in := fmt.Sprintf("b%d\nc%d\n", batch, batch)
		w.Stream("stdout", strings.NewReader(in))
		want.WriteString(in)
		waitForOutput(t, out, want.String())
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("no rotation happened: %v", err)
	}
	exited.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReadFollowContextCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, LoggerSpec{Path: path}, "stdout", "x\n")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := startFollow(t, ctx, path, ReadOptions{}, out, nil)
	waitForOutput(t, out, "x\n")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
}
