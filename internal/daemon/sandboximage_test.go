package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/runtime/runtimetest"
)

// fakePause writes, next to a fake daemon executable, the smallest file the
// image builder accepts as a static pause binary (an ELF header for this
// machine, no program headers), and returns the daemon's path.
func fakePause(t *testing.T) string {
	t.Helper()
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	m, ok := machines[goruntime.GOARCH]
	if !ok {
		t.Skipf("no ELF machine known for %s", goruntime.GOARCH)
	}
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "minikubelet-pause"), b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "minikubelet")
}

// importingRuntime is the fake runtime with an ImportImage that does what
// the test asks of it with the archive stream.
type importingRuntime struct {
	*runtimetest.Fake
	importFn  func(r io.Reader) error
	importCtx context.Context
}

func (r *importingRuntime) ImportImage(ctx context.Context, rd io.Reader, _ runtime.ImportOptions) ([]runtime.Image, error) {
	r.importCtx = ctx
	return nil, r.importFn(rd)
}

// tarNames reads a whole tar stream and returns its entry names.
func tarNames(r io.Reader) ([]string, error) {
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		names = append(names, h.Name)
	}
}

func TestSandboxImageEnsure(t *testing.T) {
	const ref = "localhost/minikubelet/pause:test"
	errBroken := errors.New("containerd went away")
	var names []string
	for _, tc := range []struct {
		name     string
		present  bool
		noPause  bool
		importFn func(io.Reader) error
		wantErr  string
		wantTar  bool
	}{
		{name: "already present", present: true},
		{
			name: "built and streamed into the import",
			importFn: func(r io.Reader) error {
				var err error
				names, err = tarNames(r)
				return err
			},
			wantTar: true,
		},
		{
			// The writer must not stay blocked on the pipe.
			name:     "import stops reading early",
			importFn: func(io.Reader) error { return nil },
		},
		{
			name: "import fails part way",
			importFn: func(r io.Reader) error {
				_, _ = io.ReadFull(r, make([]byte, 100))
				return errBroken
			},
			wantErr: "import sandbox image: containerd went away",
		},
		{name: "no pause binary", noPause: true, wantErr: "no pause binary was found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names = nil
			fake := runtimetest.New()
			if tc.present {
				fake.AddImage(ref)
			}
			rt := &importingRuntime{Fake: fake, importFn: tc.importFn}
			exe := filepath.Join(t.TempDir(), "minikubelet")
			if !tc.noPause {
				exe = fakePause(t)
			}
			s := &sandboxImage{ref: ref, rt: rt, exe: exe, log: zaptest.NewLogger(t)}
			err := s.ensure(context.Background())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ensure: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("ensure error %v, want one containing %q", err, tc.wantErr)
			}
			if tc.importFn == nil {
				if rt.importCtx != nil {
					t.Error("ImportImage called, want no import")
				}
				return
			}
			if rt.importCtx == nil {
				t.Error("ImportImage not called")
			}
			if tc.wantTar {
				joined := strings.Join(names, " ")
				for _, want := range []string{"oci-layout", "index.json", "blobs/sha256/"} {
					if !strings.Contains(joined, want) {
						t.Errorf("archive entries %v, want %s among them", names, want)
					}
				}
			}
		})
	}
}

// sink keeps allocations on the heap until the test drops them.
var sink [][]byte

func TestReleaseStartupMemory(t *testing.T) {
	for range 64 {
		sink = append(sink, make([]byte, 64<<10))
	}
	sink = nil
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	releaseStartupMemory(zaptest.NewLogger(t))
	goruntime.ReadMemStats(&after)
	if after.NumGC < before.NumGC+2 {
		t.Errorf("%d collections, want at least 2 (one to empty the pools' victim cache)", after.NumGC-before.NumGC)
	}
	if after.HeapReleased <= before.HeapReleased {
		t.Errorf("heap released to the OS went from %d to %d bytes, want more", before.HeapReleased, after.HeapReleased)
	}
}
