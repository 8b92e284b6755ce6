package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// maxExecSpecs bounds the process spec cache. Entries go when the daemon
// removes a container or records its exit; the bound only covers
// containers removed behind the daemon's back, which never exec again.
const maxExecSpecs = 4096

// execSpecs caches each container's process spec, which an exec starts
// from (environment, user, working directory, capabilities). A container's
// spec never changes once created, and reading it is a containers.Get
// round trip plus a JSON decode of the whole OCI spec: with the task
// lookup, that was three of the ten containerd calls an exec probe made,
// every period, for the same answer.
type execSpecs struct {
	load func(ctx context.Context, id string) (*specs.Process, error)

	mu    sync.Mutex
	procs map[string]*specs.Process
}

func newExecSpecs(load func(ctx context.Context, id string) (*specs.Process, error)) *execSpecs {
	return &execSpecs{load: load, procs: map[string]*specs.Process{}}
}

// get returns the process spec of container id, loading it on first use.
// The result is shared: callers copy it before changing a field.
func (s *execSpecs) get(ctx context.Context, id string) (*specs.Process, error) {
	s.mu.Lock()
	p := s.procs[id]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	// Not under the lock: a slow containerd must not hold up the probes of
	// other containers. Two concurrent misses load twice, harmlessly.
	p, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.procs) >= maxExecSpecs {
		clear(s.procs)
	}
	s.procs[id] = p
	return p, nil
}

// forget drops container id, when it is removed or its task is gone.
func (s *execSpecs) forget(id string) {
	s.mu.Lock()
	delete(s.procs, id)
	s.mu.Unlock()
}

// loadProcessSpec reads container id's process spec from containerd.
func (c *Containerd) loadProcessSpec(ctx context.Context, id string) (*specs.Process, error) {
	r, err := c.client.ContainerService().Get(ctx, id)
	if err != nil {
		return nil, wrapNotFound(err, "container "+id)
	}
	if r.Spec == nil {
		return nil, fmt.Errorf("container %s has no spec", id)
	}
	var spec specs.Spec
	if err := json.Unmarshal(r.Spec.GetValue(), &spec); err != nil {
		return nil, fmt.Errorf("read spec of container %s: %w", id, err)
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("container %s has no process in its spec", id)
	}
	return spec.Process, nil
}
