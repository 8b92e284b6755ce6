package ocibuild

import (
	"archive/tar"
	_ "crypto/sha256" // registers sha256 for go-digest
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// AnnotationContainerdImageName is the index annotation containerd's client
// Import reads first to name the image it creates. It carries the full
// reference, where the OCI ref.name annotation carries only the tag.
const AnnotationContainerdImageName = "io.containerd.image.name"

// historyCreatedBy is recorded in the image history so `nerdctl image
// history` and skopeo show where the layer came from.
const historyCreatedBy = "minikubelet internal/ocibuild"

// WriteArchive writes an OCI image-layout tar for the image ref to w: the
// oci-layout file, index.json and blobs/sha256/ holding one gzip'd layer
// made of files, the image config (linux/runtime.GOARCH) built from cfg,
// and the manifest. Parent directories of files are added to the layer.
//
// ref must be a fully qualified, tagged reference such as
// "localhost/minikubelet/pause:dev", because containerd stores the name
// verbatim while image lookups use the normalized form. index.json names
// the manifest with the io.containerd.image.name annotation (ref, which
// containerd's client Import uses as the image name) and with
// org.opencontainers.image.ref.name (the tag alone, as the OCI layout
// convention and containerd's own exporter have it).
//
// All inputs are validated and the blobs built in memory before anything
// is written to w, so an invalid input leaves w untouched. The same inputs
// always give the same bytes and the same manifest digest, which is
// returned.
func WriteArchive(w io.Writer, ref string, files []File, cfg Config) (manifestDigest digest.Digest, err error) {
	tag, err := checkRef(ref)
	if err != nil {
		return "", err
	}
	imgCfg, err := imageConfig(cfg)
	if err != nil {
		return "", err
	}
	raw, gz, err := buildLayer(files)
	if err != nil {
		return "", err
	}

	platform := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	created := epoch
	layer := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageLayerGzip,
		Digest:    digest.FromBytes(gz),
		Size:      int64(len(gz)),
	}
	configJSON, err := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: platform,
		Config:   imgCfg,
		RootFS: ocispec.RootFS{
			Type:    "layers",
			DiffIDs: []digest.Digest{digest.FromBytes(raw)},
		},
		History: []ocispec.History{{Created: &created, CreatedBy: historyCreatedBy}},
	})
	if err != nil {
		return "", fmt.Errorf("encode image config: %w", err)
	}
	manifestJSON, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageConfig,
			Digest:    digest.FromBytes(configJSON),
			Size:      int64(len(configJSON)),
		},
		Layers: []ocispec.Descriptor{layer},
	})
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	manifest := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromBytes(manifestJSON),
		Size:      int64(len(manifestJSON)),
		// The platform lets containerd's import filter by platform
		// without reading the config first.
		Platform: &platform,
		Annotations: map[string]string{
			AnnotationContainerdImageName: ref,
			ocispec.AnnotationRefName:     tag,
		},
	}
	indexJSON, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifest},
	})
	if err != nil {
		return "", fmt.Errorf("encode index: %w", err)
	}
	layoutJSON, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return "", fmt.Errorf("encode oci-layout: %w", err)
	}

	blobs := [][]byte{gz, configJSON, manifestJSON}
	sort.Slice(blobs, func(i, j int) bool {
		return digest.FromBytes(blobs[i]) < digest.FromBytes(blobs[j])
	})
	if err := writeLayout(w, layoutJSON, indexJSON, blobs); err != nil {
		return "", err
	}
	return manifest.Digest, nil
}

// writeLayout writes the image-layout tar. oci-layout comes first so a
// streaming reader knows the format before the blobs; containerd's importer
// does not care about the order, but skopeo's extraction and people
// running `tar tf` read it more easily this way.
func writeLayout(w io.Writer, layoutJSON, indexJSON []byte, blobs [][]byte) error {
	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name,
			Mode:     0o644,
			Size:     int64(len(data)),
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	dir := func(name string) error {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	if err := file(ocispec.ImageLayoutFile, layoutJSON); err != nil {
		return err
	}
	if err := file(ocispec.ImageIndexFile, indexJSON); err != nil {
		return err
	}
	// Directory entries are not needed by containerd, but tools that
	// extract the archive to a directory first (skopeo) expect them.
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := file("blobs/sha256/"+digest.FromBytes(b).Encoded(), b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close archive: %w", err)
	}
	return nil
}

// checkRef accepts only references that are already in the normalized
// form containerd will be asked for, and returns the tag.
func checkRef(ref string) (tag string, err error) {
	if ref == "" {
		return "", errors.New("image reference is empty")
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		// The manifest digest is an output of this package, so a
		// digest in the name could only disagree with it.
		return "", fmt.Errorf("image reference %q: must be tagged, not pinned by digest", ref)
	}
	if named.String() != ref {
		// containerd stores image names verbatim and the daemon looks
		// them up normalized; a short name would never be found.
		return "", fmt.Errorf("image reference %q is not fully qualified: use %q", ref, named.String())
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return "", fmt.Errorf("image reference %q: no tag", ref)
	}
	return tagged.Tag(), nil
}

// imageConfig validates cfg and converts it to the OCI form.
func imageConfig(cfg Config) (ocispec.ImageConfig, error) {
	out := ocispec.ImageConfig{
		Entrypoint: cfg.Entrypoint,
		Cmd:        cfg.Cmd,
		Env:        cfg.Env,
		WorkingDir: cfg.WorkingDir,
		User:       cfg.User,
		StopSignal: cfg.StopSignal,
		Labels:     cfg.Labels,
	}
	for _, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return out, fmt.Errorf("config env %q: want KEY=value", kv)
		}
	}
	if cfg.WorkingDir != "" && !strings.HasPrefix(cfg.WorkingDir, "/") {
		return out, fmt.Errorf("config working dir %q: must be absolute", cfg.WorkingDir)
	}
	if cfg.StopSignal != "" && !validSignal(cfg.StopSignal) {
		return out, fmt.Errorf("config stop signal %q: not a signal (want e.g. SIGQUIT)", cfg.StopSignal)
	}
	if len(cfg.ExposedPorts) > 0 {
		out.ExposedPorts = make(map[string]struct{}, len(cfg.ExposedPorts))
		for _, p := range cfg.ExposedPorts {
			norm, err := normalizePort(p)
			if err != nil {
				return out, err
			}
			out.ExposedPorts[norm] = struct{}{}
		}
	}
	return out, nil
}

// validSignal reports whether s names a signal the way runtimes parse a
// STOPSIGNAL: "SIGTERM", "TERM" or a number.
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n < 65
	}
	return unix.SignalNum("SIG"+strings.TrimPrefix(strings.ToUpper(s), "SIG")) != 0
}

// normalizePort turns "80" into "80/tcp" and checks "port/proto".
func normalizePort(p string) (string, error) {
	port, proto, ok := strings.Cut(p, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("config exposed port %q: want port/proto with port 1-65535", p)
	}
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return "", fmt.Errorf("config exposed port %q: protocol must be tcp, udp or sctp", p)
	}
	return strconv.Itoa(n) + "/" + proto, nil
}
