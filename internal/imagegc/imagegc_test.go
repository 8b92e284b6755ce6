package imagegc

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/runtime/runtimetest"
)

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cands := []Candidate{
		{Ref: "new", Size: 30, LastUsed: t0.Add(2 * time.Hour)},
		{Ref: "old", Size: 10, LastUsed: t0},
		{Ref: "mid", Size: 20, LastUsed: t0.Add(time.Hour)},
	}
	refs := func(cs []Candidate) string {
		s := ""
		for _, c := range cs {
			s += c.Ref + " "
		}
		return s
	}
	tests := []struct {
		name       string
		used, capa int64
		want       string
	}{
		{"under high", 84, 100, ""},
		{"at high: down to 80, least recently used first", 85, 100, "old "},
		{"far over", 100, 100, "old mid "},
		{"not enough to free", 200, 100, "old mid new "},
	}
	for _, tt := range tests {
		if got := refs(Plan(tt.used, tt.capa, 85, 80, cands)); got != tt.want {
			t.Errorf("%s: removes %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCollectKeepsImagesInUse(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	rt := runtimetest.New("used:1", "unused:1", "pause:1")
	c := New(Options{
		Runtime: rt, HighPercent: 85, LowPercent: 80, Clock: clk,
		InUse: func() map[string]bool { return map[string]bool{"used:1": true, "pause:1": true} },
		Usage: func(string) (int64, int64, error) { return 99, 100, nil },
	})
	if err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	imgs, _ := rt.ListImages(context.Background())
	var left []string
	for _, i := range imgs {
		left = append(left, i.Ref)
	}
	if len(left) != 2 || left[0] != "pause:1" || left[1] != "used:1" {
		t.Fatalf("left %v, want pause:1 and used:1", left)
	}
	_ = runtime.Image{}
}
