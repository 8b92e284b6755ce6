package ocibuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// epoch is the timestamp of every layer entry, archive entry and the image
// config: a fixed value is what makes the digests reproducible.
var epoch = time.Unix(0, 0).UTC()

// layerEntry is a File checked and reduced to what the tar header needs.
type layerEntry struct {
	name string // relative to the layer root, without a trailing slash
	mode fs.FileMode
	data []byte
	link string
}

// layerEntries validates files, adds their missing parent directories and
// returns them sorted by name. Sorting by the plain string is enough to put
// every directory before its contents, since a parent's name is a prefix of
// its children's.
func layerEntries(files []File) ([]layerEntry, error) {
	byName := make(map[string]layerEntry, len(files))
	for _, f := range files {
		e, err := checkFile(f)
		if err != nil {
			return nil, err
		}
		if _, dup := byName[e.name]; dup {
			// Two entries for one path would leave the result to
			// the unpacker's order; refuse instead of guessing.
			return nil, fmt.Errorf("file %q: listed more than once", f.Path)
		}
		byName[e.name] = e
	}
	for _, e := range byName {
		for dir := path.Dir(e.name); dir != "."; dir = path.Dir(dir) {
			p, ok := byName[dir]
			if !ok {
				byName[dir] = layerEntry{name: dir, mode: dirMode}
				continue
			}
			if !p.mode.IsDir() {
				// A file or symlink where a directory is needed
				// would make the unpacker fail or, for a symlink,
				// write outside the intended place.
				return nil, fmt.Errorf("file %q: parent %q is not a directory", "/"+e.name, "/"+dir)
			}
		}
	}
	out := make([]layerEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// checkFile validates one File and converts its path to a layer name.
func checkFile(f File) (layerEntry, error) {
	if !strings.HasPrefix(f.Path, "/") {
		return layerEntry{}, fmt.Errorf("file %q: path must be absolute", f.Path)
	}
	for _, part := range strings.Split(f.Path, "/") {
		if part == ".." {
			return layerEntry{}, fmt.Errorf("file %q: path must not contain \"..\"", f.Path)
		}
	}
	name := strings.TrimPrefix(path.Clean(f.Path), "/")
	if name == "" {
		return layerEntry{}, fmt.Errorf("file %q: the root directory cannot be an entry", f.Path)
	}
	e := layerEntry{name: name, mode: f.Mode, data: f.Data, link: f.Link}
	switch f.Mode.Type() {
	case 0:
		if f.Link != "" {
			return layerEntry{}, fmt.Errorf("file %q: Link is set but Mode is not fs.ModeSymlink", f.Path)
		}
	case fs.ModeDir:
		if len(f.Data) > 0 || f.Link != "" {
			return layerEntry{}, fmt.Errorf("file %q: a directory has no Data or Link", f.Path)
		}
	case fs.ModeSymlink:
		if f.Link == "" {
			return layerEntry{}, fmt.Errorf("file %q: symlink without a Link target", f.Path)
		}
		if len(f.Data) > 0 {
			return layerEntry{}, fmt.Errorf("file %q: a symlink has no Data", f.Path)
		}
	default:
		// Devices, pipes and sockets have no use in the images this
		// package is for, and a runtime creates /dev itself.
		return layerEntry{}, fmt.Errorf("file %q: unsupported file type %v", f.Path, f.Mode.Type())
	}
	return e, nil
}

// tarMode converts a FileMode to the Unix permission bits of a tar header.
func tarMode(m fs.FileMode) int64 {
	// Go keeps setuid/setgid/sticky outside the low bits, where the
	// 0o7000 range is unused; take both spellings.
	mode := int64(m & (fs.ModePerm | 0o7000))
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// buildLayer returns the uncompressed layer tar (whose sha256 is the diff
// ID) and its gzip compression (the blob the manifest points to).
func buildLayer(files []File) (raw, gz []byte, err error) {
	entries, err := layerEntries(files)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    tarMode(e.mode),
			ModTime: epoch,
			// PAX keeps long names and is what container tools write;
			// with no access/change times Go emits no time records,
			// so headers stay byte-identical between runs.
			Format: tar.FormatPAX,
		}
		switch e.mode.Type() {
		case fs.ModeDir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case fs.ModeSymlink:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = e.link
			hdr.Mode = 0o777
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, nil, fmt.Errorf("layer entry %q: %w", "/"+e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, nil, fmt.Errorf("layer entry %q: %w", "/"+e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, fmt.Errorf("close layer tar: %w", err)
	}
	raw = buf.Bytes()

	var zbuf bytes.Buffer
	// The gzip header's name, comment and mtime stay empty so the
	// compressed bytes depend on the content only.
	zw, err := gzip.NewWriterLevel(&zbuf, gzip.BestCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, nil, fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, nil, fmt.Errorf("compress layer: %w", err)
	}
	return raw, zbuf.Bytes(), nil
}
