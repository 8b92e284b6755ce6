package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// countingLoader answers like containerd and counts the round trips.
type countingLoader struct {
	calls map[string]int
	err   error
}

func (l *countingLoader) load(_ context.Context, id string) (*specs.Process, error) {
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[id]++
	if l.err != nil {
		return nil, l.err
	}
	return &specs.Process{Args: []string{"init-of-" + id}, Cwd: "/"}, nil
}

func TestExecSpecsLoadsOncePerContainer(t *testing.T) {
	l := &countingLoader{}
	s := newExecSpecs(l.load)
	ctx := context.Background()
	for range 3 {
		for _, id := range []string{"a", "b"} {
			p, err := s.get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if p.Args[0] != "init-of-"+id {
				t.Errorf("get(%q) = spec of %q", id, p.Args[0])
			}
		}
	}
	if l.calls["a"] != 1 || l.calls["b"] != 1 {
		t.Errorf("loads = %v, want one per container", l.calls)
	}
	s.forget("a")
	if _, err := s.get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if l.calls["a"] != 2 || l.calls["b"] != 1 {
		t.Errorf("loads after forget(a) = %v, want a reloaded only", l.calls)
	}
}

func TestExecSpecsDoesNotCacheErrors(t *testing.T) {
	l := &countingLoader{err: fmt.Errorf("container x: %w", ErrNotFound)}
	s := newExecSpecs(l.load)
	for range 2 {
		if _, err := s.get(context.Background(), "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get = %v, want ErrNotFound", err)
		}
	}
	l.err = nil
	if _, err := s.get(context.Background(), "x"); err != nil {
		t.Fatalf("get after the container appeared: %v", err)
	}
	if l.calls["x"] != 3 {
		t.Errorf("loads = %d, want 3 (errors are not cached)", l.calls["x"])
	}
}

func TestExecSpecsBounded(t *testing.T) {
	l := &countingLoader{}
	s := newExecSpecs(l.load)
	for i := range maxExecSpecs + 10 {
		if _, err := s.get(context.Background(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.procs); n > maxExecSpecs {
		t.Errorf("cache holds %d specs, bound is %d", n, maxExecSpecs)
	}
}
