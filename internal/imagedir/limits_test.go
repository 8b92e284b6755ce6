package imagedir

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/runtime/runtimetest"
)

// readingRuntime is the fake runtime with an import that reads the whole
// stream, as containerd's importer does.
type readingRuntime struct {
	*runtimetest.Fake
	read int64
}

func (r *readingRuntime) ImportImage(_ context.Context, rd io.Reader, _ runtime.ImportOptions) ([]runtime.Image, error) {
	n, err := io.Copy(io.Discard, rd)
	r.read = n
	return nil, err
}

func tarOf(t *testing.T, files map[string]int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, size := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(bytes.Repeat([]byte{'x'}, size))
	}
	tw.Close()
	return buf.Bytes()
}

func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func TestImportSizeCaps(t *testing.T) {
	small := tarOf(t, map[string]int{"blobs/sha256/a": 1000})
	// A tar header announcing 1 TiB with hardly any data after it: what a
	// sparse file (tar -S) looks like to a reader that expands it.
	var sparse bytes.Buffer
	tw := tar.NewWriter(&sparse)
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/big", Mode: 0o644, Size: 1 << 40, Typeflag: tar.TypeReg})
	tw.Flush()
	sparse.Write(make([]byte, 4096))
	bomb := gzipped(make([]byte, 8<<20)) // 8 MiB of zeros, a few KiB compressed
	random := make([]byte, 4096)
	rand.Read(random)
	noise := gzipped(random)

	tests := []struct {
		name  string
		data  []byte
		limit int64
		want  string // "" means imported
	}{
		{"under every cap", small, 1 << 20, ""},
		{"no cap", bomb, 0, ""},
		// Random bytes do not compress: the compressed stream is the
		// larger one, and over the cap first.
		{"compressed over", noise, int64(len(noise)) - 1, "the archive is over the limit"},
		{"decompressed over", bomb, 1 << 20, "the decompressed archive is over the limit of 1048576 bytes"},
		{"sparse file", sparse.Bytes(), 1 << 20, "the files in the archive add up to more than the limit of 1048576 bytes (max-image-import-size; blobs/sha256/big alone is 1099511627776)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &readingRuntime{Fake: runtimetest.New()}
			_, err := Import(context.Background(), rt, bytes.NewReader(tt.data), ImportOptions{MaxSize: tt.limit})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v, want %q wrapping ErrTooLarge", err, tt.want)
			}
			if tt.limit > 0 && rt.read > tt.limit {
				t.Errorf("the importer read %d bytes, more than the cap %d", rt.read, tt.limit)
			}
		})
	}
}
