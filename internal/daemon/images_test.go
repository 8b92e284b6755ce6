package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/minikubelet/minikubelet/internal/api"
	"github.com/minikubelet/minikubelet/internal/status"
)

// TestImportSlot: one import at a time; the socket's next import is busy
// at once, the archive directory's waits (here until its context ends).
func TestImportSlot(t *testing.T) {
	b := &backend{imports: make(chan struct{}, 1)}
	release, err := b.importSlot(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.importSlot(context.Background(), false); !errors.Is(err, api.ErrBusy) {
		t.Errorf("second socket import: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.importSlot(ctx, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting import: %v, want its context's end", err)
	}
	release()
	again, err := b.importSlot(context.Background(), false)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

// TestImportRefusesNamesInUse: an import may move a name nothing uses,
// but not one a pod or the sandbox uses; the refusal names the image and
// its users and is a Conflict.
func TestImportRefusesNamesInUse(t *testing.T) {
	store := status.NewStore(clocktesting.NewFakePassiveClock(time.Now()), 10)
	for _, name := range []string{"web", "web2"} {
		store.SetPod(&v1.Pod{
			ObjectMeta: metav1.ObjectMeta{UID: types.UID("u-" + name), Name: name, Namespace: "default"},
			Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "nginx:1.27"}}},
		})
	}
	b := &backend{store: store, sandboxImage: "localhost/minikubelet/pause:v1"}
	repoint := b.importOptions().Runtime.Repoint
	for _, tt := range []struct {
		ref, want string
	}{
		{"docker.io/library/busybox:1", ""},
		{"docker.io/library/nginx:1.27", "image docker.io/library/nginx:1.27 is in use by default/web, default/web2; the archive would move it from sha256:a to sha256:b"},
		{"localhost/minikubelet/pause:v1", "is in use by sandbox"},
	} {
		err := repoint(tt.ref, "sha256:a", "sha256:b")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.ref, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, api.ErrConflict)):
			t.Errorf("%s: %v, want a Conflict with %q", tt.ref, err, tt.want)
		}
	}
}
