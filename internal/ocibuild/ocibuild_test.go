package ocibuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const testRef = "localhost/minikubelet/test:v1"

// sampleFiles exercises every entry kind, implicit parents and the
// special mode bits.
func sampleFiles() []File {
	return []File{
		{Path: "/usr/local/bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\necho tool\n")},
		{Path: "/etc/motd", Mode: 0o644, Data: []byte("hello\n")},
		{Path: "/bin/sh", Mode: fs.ModeSymlink | 0o777, Link: "../usr/local/bin/tool"},
		{Path: "/tmp/", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/usr/bin/su", Mode: fs.ModeSetuid | 0o755, Data: []byte("x")},
		{Path: "/empty", Mode: 0o600},
	}
}

func sampleConfig() Config {
	return Config{
		Entrypoint:   []string{"/usr/local/bin/tool"},
		Cmd:          []string{"-v"},
		Env:          []string{DefaultPathEnv, "A=b=c"},
		WorkingDir:   "/tmp",
		User:         "65534:65534",
		StopSignal:   "SIGQUIT",
		ExposedPorts: []string{"8080/tcp", "53/udp", "9000"},
		Labels:       map[string]string{"app": "test"},
	}
}

// layout is an image-layout archive read back into memory.
type layout struct {
	files map[string][]byte
	order []string
}

func readLayout(t *testing.T, archive []byte) layout {
	t.Helper()
	l := layout{files: map[string][]byte{}}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		if !hdr.ModTime.Equal(epoch) {
			t.Errorf("archive entry %s: mtime %v, want %v", hdr.Name, hdr.ModTime, epoch)
		}
		l.order = append(l.order, hdr.Name)
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", hdr.Name, err)
		}
		l.files[hdr.Name] = data
	}
	return l
}

// blob returns the blob desc points to, after checking that its size and
// content hash match the descriptor.
func (l layout) blob(t *testing.T, desc ocispec.Descriptor) []byte {
	t.Helper()
	data, ok := l.files["blobs/sha256/"+desc.Digest.Encoded()]
	if !ok {
		t.Fatalf("blob %s missing from archive", desc.Digest)
	}
	if got := digest.FromBytes(data); got != desc.Digest {
		t.Fatalf("blob %s has content digest %s", desc.Digest, got)
	}
	if int64(len(data)) != desc.Size {
		t.Fatalf("blob %s: size %d, descriptor says %d", desc.Digest, len(data), desc.Size)
	}
	return data
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, data)
	}
}

// gotEntry is what a layer tar holds for one path.
type gotEntry struct {
	typ  byte
	mode int64
	data string
	link string
}

func readLayer(t *testing.T, raw []byte) (map[string]gotEntry, []string) {
	t.Helper()
	entries := map[string]gotEntry{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(epoch) || len(hdr.PAXRecords) != 0 {
			t.Errorf("layer entry %s: uid %d gid %d mtime %v pax %v; want root, epoch, no PAX records",
				hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime, hdr.PAXRecords)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read layer entry %s: %v", hdr.Name, err)
		}
		entries[hdr.Name] = gotEntry{typ: hdr.Typeflag, mode: hdr.Mode, data: string(data), link: hdr.Linkname}
		order = append(order, hdr.Name)
	}
	return entries, order
}

func writeSample(t *testing.T, files []File, cfg Config) ([]byte, digest.Digest) {
	t.Helper()
	var buf bytes.Buffer
	dgst, err := WriteArchive(&buf, testRef, files, cfg)
	if err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	return buf.Bytes(), dgst
}

func TestWriteArchiveLayout(t *testing.T) {
	archive, manifestDigest := writeSample(t, sampleFiles(), sampleConfig())
	l := readLayout(t, archive)

	var ociLayout ocispec.ImageLayout
	decode(t, l.files[ocispec.ImageLayoutFile], &ociLayout)
	if ociLayout.Version != ocispec.ImageLayoutVersion {
		t.Errorf("oci-layout version %q, want %q", ociLayout.Version, ocispec.ImageLayoutVersion)
	}

	var index ocispec.Index
	decode(t, l.files[ocispec.ImageIndexFile], &index)
	if index.SchemaVersion != 2 || index.MediaType != ocispec.MediaTypeImageIndex || len(index.Manifests) != 1 {
		t.Fatalf("index: %+v", index)
	}
	md := index.Manifests[0]
	if md.Digest != manifestDigest || md.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("index manifest %s (%s), WriteArchive returned %s", md.Digest, md.MediaType, manifestDigest)
	}
	wantAnn := map[string]string{AnnotationContainerdImageName: testRef, ocispec.AnnotationRefName: "v1"}
	if !reflect.DeepEqual(md.Annotations, wantAnn) {
		t.Errorf("index annotations %v, want %v", md.Annotations, wantAnn)
	}
	wantPlatform := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if md.Platform == nil || !reflect.DeepEqual(*md.Platform, wantPlatform) {
		t.Errorf("index platform %v, want %v", md.Platform, wantPlatform)
	}

	var manifest ocispec.Manifest
	decode(t, l.blob(t, md), &manifest)
	if manifest.SchemaVersion != 2 || manifest.MediaType != ocispec.MediaTypeImageManifest ||
		manifest.Config.MediaType != ocispec.MediaTypeImageConfig || len(manifest.Layers) != 1 ||
		manifest.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Fatalf("manifest: %+v", manifest)
	}

	var img ocispec.Image
	decode(t, l.blob(t, manifest.Config), &img)
	if !reflect.DeepEqual(img.Platform, wantPlatform) {
		t.Errorf("config platform %+v, want %+v", img.Platform, wantPlatform)
	}
	if img.Created == nil || !img.Created.Equal(epoch) {
		t.Errorf("config created %v, want %v", img.Created, epoch)
	}
	wantCfg := ocispec.ImageConfig{
		Entrypoint:   []string{"/usr/local/bin/tool"},
		Cmd:          []string{"-v"},
		Env:          []string{DefaultPathEnv, "A=b=c"},
		WorkingDir:   "/tmp",
		User:         "65534:65534",
		StopSignal:   "SIGQUIT",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}, "9000/tcp": {}},
		Labels:       map[string]string{"app": "test"},
	}
	if !reflect.DeepEqual(img.Config, wantCfg) {
		t.Errorf("config:\n got %+v\nwant %+v", img.Config, wantCfg)
	}

	gz := l.blob(t, manifest.Layers[0])
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip layer: %v", err)
	}
	if img.RootFS.Type != "layers" || len(img.RootFS.DiffIDs) != 1 || img.RootFS.DiffIDs[0] != digest.FromBytes(raw) {
		t.Errorf("rootfs %+v, want one diff_id %s (sha256 of the uncompressed layer)", img.RootFS, digest.FromBytes(raw))
	}

	// Every blob in the archive is referenced, and named by its hash.
	for name, data := range l.files {
		if enc, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
			if digest.FromBytes(data).Encoded() != enc {
				t.Errorf("blob %s does not hash to its name", name)
			}
		}
	}
	if got := len(l.files); got != 5 { // oci-layout, index.json, 3 blobs
		t.Errorf("archive has %d files, want 5: %v", got, l.order)
	}
	if l.order[0] != ocispec.ImageLayoutFile {
		t.Errorf("first archive entry %q, want oci-layout", l.order[0])
	}

	entries, order := readLayer(t, raw)
	want := map[string]gotEntry{
		"bin/":               {typ: tar.TypeDir, mode: 0o755},
		"bin/sh":             {typ: tar.TypeSymlink, mode: 0o777, link: "../usr/local/bin/tool"},
		"empty":              {typ: tar.TypeReg, mode: 0o600},
		"etc/":               {typ: tar.TypeDir, mode: 0o755},
		"etc/motd":           {typ: tar.TypeReg, mode: 0o644, data: "hello\n"},
		"tmp/":               {typ: tar.TypeDir, mode: 0o1777},
		"usr/":               {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/":           {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/su":         {typ: tar.TypeReg, mode: 0o4755, data: "x"},
		"usr/local/":         {typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/":     {typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/tool": {typ: tar.TypeReg, mode: 0o755, data: "#!/bin/sh\necho tool\n"},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("layer entries:\n got %+v\nwant %+v", entries, want)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("layer entries not sorted: %q before %q", order[i-1], order[i])
		}
	}
}

func TestWriteArchiveDeterministic(t *testing.T) {
	a, da := writeSample(t, sampleFiles(), sampleConfig())
	// Input order must not matter either.
	files := sampleFiles()
	for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
		files[i], files[j] = files[j], files[i]
	}
	b, db := writeSample(t, files, sampleConfig())
	if da != db || !bytes.Equal(a, b) {
		t.Errorf("same inputs gave different archives: %s vs %s", da, db)
	}
	cfg := sampleConfig()
	cfg.Cmd = []string{"-x"}
	if _, dc := writeSample(t, sampleFiles(), cfg); dc == da {
		t.Errorf("a different config gave the same manifest digest %s", dc)
	}
}

func TestWriteArchiveErrors(t *testing.T) {
	ok := []File{{Path: "/f", Mode: 0o644}}
	tests := []struct {
		name  string
		ref   string
		files []File
		cfg   Config
		want  string
	}{
		{"empty ref", "", ok, Config{}, "empty"},
		{"short ref", "busybox", ok, Config{}, `use "docker.io/library/busybox:latest"`},
		{"untagged ref", "localhost/x", ok, Config{}, `use "localhost/x:latest"`},
		{"digest ref", "localhost/x@sha256:" + strings.Repeat("a", 64), ok, Config{}, "tagged"},
		{"bad ref", "Upper/Case:x", ok, Config{}, "Upper/Case"},
		{"relative path", testRef, []File{{Path: "f", Mode: 0o644}}, Config{}, "absolute"},
		{"dotdot", testRef, []File{{Path: "/a/../f", Mode: 0o644}}, Config{}, `".."`},
		{"root", testRef, []File{{Path: "/", Mode: fs.ModeDir | 0o755}}, Config{}, "root"},
		{"duplicate", testRef, []File{{Path: "/f", Mode: 0o644}, {Path: "/f/", Mode: 0o644}}, Config{}, "more than once"},
		{"link without symlink mode", testRef, []File{{Path: "/f", Mode: 0o777, Link: "x"}}, Config{}, "ModeSymlink"},
		{"symlink without target", testRef, []File{{Path: "/f", Mode: fs.ModeSymlink}}, Config{}, "target"},
		{"dir with data", testRef, []File{{Path: "/d", Mode: fs.ModeDir | 0o755, Data: []byte("x")}}, Config{}, "directory"},
		{"device", testRef, []File{{Path: "/dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}}, Config{}, "unsupported"},
		{"file as parent", testRef, []File{{Path: "/a", Mode: 0o644}, {Path: "/a/b", Mode: 0o644}}, Config{}, "not a directory"},
		{"symlink as parent", testRef, []File{{Path: "/a", Mode: fs.ModeSymlink, Link: "/etc"}, {Path: "/a/b", Mode: 0o644}}, Config{}, "not a directory"},
		{"bad env", testRef, ok, Config{Env: []string{"PATH"}}, "KEY=value"},
		{"relative workdir", testRef, ok, Config{WorkingDir: "tmp"}, "absolute"},
		{"bad signal", testRef, ok, Config{StopSignal: "SIGNOPE"}, "not a signal"},
		{"bad port", testRef, ok, Config{ExposedPorts: []string{"http"}}, "port 1-65535"},
		{"bad proto", testRef, ok, Config{ExposedPorts: []string{"80/icmp"}}, "protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := WriteArchive(&buf, tt.ref, tt.files, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WriteArchive error %v, want one containing %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes despite the error", buf.Len())
			}
		})
	}
}

func TestValidSignal(t *testing.T) {
	for s, want := range map[string]bool{
		"SIGTERM": true, "TERM": true, "SIGQUIT": true, "sigint": true, "9": true,
		"SIGWINCH": true, "0": false, "65": false, "SIGFOO": false, "": false,
	} {
		if got := validSignal(s); got != want {
			t.Errorf("validSignal(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestSkopeoAcceptsArchive checks the archive against an independent
// implementation of the OCI layout: skopeo verifies every digest while
// copying it.
func TestSkopeoAcceptsArchive(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	dir := t.TempDir()
	archive, dgst := writeSample(t, sampleFiles(), sampleConfig())
	path := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("skopeo", "inspect", "oci-archive:"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var info struct {
		Digest       digest.Digest
		Architecture string
		Os           string
	}
	decode(t, out, &info)
	if info.Digest != dgst || info.Architecture != runtime.GOARCH || info.Os != "linux" {
		t.Errorf("skopeo inspect: %+v, want digest %s linux/%s", info, dgst, runtime.GOARCH)
	}
	if out, err := exec.Command("skopeo", "copy", "oci-archive:"+path+":v1", "dir:"+filepath.Join(dir, "copy")).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
}
