package runtime

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/images"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCheckImportNames(t *testing.T) {
	a, b := digest.FromString("a"), digest.FromString("b")
	existing := map[string]digest.Digest{"docker.io/library/nginx:1.27": a, "docker.io/library/free:1": a}
	current := func(name string) (ocispec.Descriptor, bool, error) {
		d, ok := existing[name]
		return ocispec.Descriptor{Digest: d}, ok, nil
	}
	inUse := ImportOptions{Repoint: func(ref, from, to string) error {
		if ref == "docker.io/library/nginx:1.27" {
			return fmt.Errorf("image %s is in use by default/web; the archive would move it from %s to %s", ref, from, to)
		}
		return nil
	}}
	tests := []struct {
		name   string
		target digest.Digest
		o      ImportOptions
		want   string // "" means allowed
		digest bool   // the error wraps ErrDigestMismatch
	}{
		{"docker.io/library/new:1", b, inUse, "", false},
		{"docker.io/library/nginx:1.27", a, inUse, "", false}, // same target: nothing moves
		{"docker.io/library/nginx:1.27", b, inUse, "in use by default/web; the archive would move it from " + a.String() + " to " + b.String(), false},
		{"docker.io/library/free:1", b, inUse, "", false},
		{"docker.io/library/nginx:1.27", b, ImportOptions{}, "", false},
		{"docker.io/library/nginx@" + a.String(), a, inUse, "", false},
		{"docker.io/library/nginx@" + a.String(), b, inUse, "names digest " + a.String() + " but the archive's manifest for it is " + b.String(), true},
		{"nginx@" + a.String(), b, ImportOptions{}, "names digest", true},
		{"docker.io/library/nginx:1.27@" + a.String(), b, ImportOptions{}, "names digest", true},
	}
	for _, tt := range tests {
		err := checkImportNames([]images.Image{{Name: tt.name, Target: ocispec.Descriptor{Digest: tt.target}}}, current, tt.o)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s -> %s: refused: %v", tt.name, tt.target, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s -> %s: error %v, want %q", tt.name, tt.target, err, tt.want)
		case err != nil && errors.Is(err, ErrDigestMismatch) != tt.digest:
			t.Errorf("%s: errors.Is(ErrDigestMismatch) = %v", tt.name, !tt.digest)
		}
	}
	// One refused name refuses the import before any later name is looked at.
	asked := 0
	err := checkImportNames([]images.Image{
		{Name: "docker.io/library/nginx:1.27", Target: ocispec.Descriptor{Digest: b}},
		{Name: "docker.io/library/free:1", Target: ocispec.Descriptor{Digest: b}},
	}, func(name string) (ocispec.Descriptor, bool, error) { asked++; return current(name) }, inUse)
	if err == nil || asked != 1 {
		t.Errorf("err %v after %d lookups", err, asked)
	}
}
