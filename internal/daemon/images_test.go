package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minikubelet/minikubelet/internal/api"
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
