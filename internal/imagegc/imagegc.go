// Package imagegc removes images no pod uses when the image filesystem
// fills up, as the kubelet's image garbage collector does: past the high
// threshold, unused images go, least recently used first, until usage is
// under the low threshold. The sandbox image is never removed.
package imagegc

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// Candidate is an image the collector may remove.
type Candidate struct {
	Ref      string
	Size     int64
	LastUsed time.Time
}

// Plan picks what to remove: nothing while used/capacity is under high
// percent; otherwise candidates, least recently used first (then larger
// first), until the freed bytes bring usage under low percent.
func Plan(used, capacity int64, high, low int, candidates []Candidate) []Candidate {
	if capacity <= 0 || used*100 < int64(high)*capacity {
		return nil
	}
	target := capacity * int64(low) / 100
	need := used - target
	sorted := append([]Candidate(nil), candidates...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].LastUsed.Equal(sorted[j].LastUsed) {
			return sorted[i].LastUsed.Before(sorted[j].LastUsed)
		}
		return sorted[i].Size > sorted[j].Size
	})
	var out []Candidate
	for _, c := range sorted {
		if need <= 0 {
			break
		}
		out = append(out, c)
		need -= c.Size
	}
	return out
}

// Runtime is what the collector needs of containerd.
type Runtime interface {
	ListImages(ctx context.Context) ([]runtime.Image, error)
	RemoveImage(ctx context.Context, ref string) error
}

// Options configure a Collector.
type Options struct {
	Runtime Runtime
	// FSPath is a path on the image filesystem (containerd's root).
	FSPath string
	// HighPercent and LowPercent are the kubelet's 85 and 80 by default.
	HighPercent, LowPercent int
	Period                  time.Duration
	// InUse returns the images (full references) pods use now, and the
	// sandbox image: never removed.
	InUse  func() map[string]bool
	Clock  clock.WithTicker
	Logger *zap.Logger
	// Usage reports the filesystem's used and total bytes (default statfs
	// of FSPath); tests replace it.
	Usage func(path string) (used, capacity int64, err error)
}

// Collector runs the image garbage collection.
type Collector struct {
	o        Options
	mu       sync.Mutex
	lastUsed map[string]time.Time
}

// New returns a Collector.
func New(o Options) *Collector {
	if o.Usage == nil {
		o.Usage = statfs
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Collector{o: o, lastUsed: map[string]time.Time{}}
}

func statfs(path string) (int64, int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	capacity := int64(st.Blocks) * st.Bsize
	free := int64(st.Bavail) * st.Bsize
	return capacity - free, capacity, nil
}

// Run collects every period until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := c.o.Clock.NewTicker(c.o.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := c.Collect(ctx); err != nil {
				c.o.Logger.Warn("image garbage collection", zap.Error(err))
			}
		}
	}
}

// Collect runs one pass and returns the first error.
func (c *Collector) Collect(ctx context.Context) error {
	imgs, err := c.o.Runtime.ListImages(ctx)
	if err != nil {
		return err
	}
	now := c.o.Clock.Now()
	inUse := c.o.InUse()
	c.mu.Lock()
	var candidates []Candidate
	seen := map[string]bool{}
	for _, i := range imgs {
		seen[i.Ref] = true
		if inUse[i.Ref] {
			c.lastUsed[i.Ref] = now
			continue
		}
		last, ok := c.lastUsed[i.Ref]
		if !ok {
			// First seen unused: its clock starts now, so an image that
			// was just imported is the last to go.
			last = now
			c.lastUsed[i.Ref] = now
		}
		candidates = append(candidates, Candidate{Ref: i.Ref, Size: i.Size, LastUsed: last})
	}
	for ref := range c.lastUsed {
		if !seen[ref] {
			delete(c.lastUsed, ref)
		}
	}
	c.mu.Unlock()
	used, capacity, err := c.o.Usage(c.o.FSPath)
	if err != nil {
		return err
	}
	plan := Plan(used, capacity, c.o.HighPercent, c.o.LowPercent, candidates)
	if len(plan) == 0 {
		return nil
	}
	c.o.Logger.Info("image filesystem over the high threshold; removing unused images",
		zap.Int64("usedBytes", used), zap.Int64("capacityBytes", capacity), zap.Int("high", c.o.HighPercent), zap.Int("low", c.o.LowPercent), zap.Int("images", len(plan)))
	for _, p := range plan {
		if err := c.o.Runtime.RemoveImage(ctx, p.Ref); err != nil {
			c.o.Logger.Warn("remove unused image", zap.String("image", p.Ref), zap.Error(err))
			continue
		}
		c.o.Logger.Info("removed unused image", zap.String("image", p.Ref), zap.Int64("size", p.Size), zap.Time("lastUsed", p.LastUsed))
	}
	return nil
}
