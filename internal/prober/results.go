package prober

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Update is one change of a probe's result.
type Update struct {
	PodUID      types.UID
	Container   string // the container's name
	ContainerID string // the attempt
	Kind        Kind
	Result      Result
	// Message is what the event should say: "Liveness probe failed: HTTP
	// probe failed with statuscode: 500" for a Failure, empty for a plain
	// Success, "Readiness probe warning: ..." for a Success with a warning.
	Message string
	// GracePeriod is the probe's terminationGracePeriodSeconds: when set, a
	// container killed for this liveness or startup failure gets it instead
	// of the pod's.
	GracePeriod *int64
}

// key names one probe of one container attempt.
type key struct {
	id   string
	kind Kind
}

// results holds every probe's current result and publishes the changes.
//
// Publishing coalesces per key instead of queueing every change: when the
// consumer is slow, a probe that flipped twice is delivered once with its
// newest result (or not at all if it flipped back to what the consumer last
// saw). Workers never block on the consumer, and the consumer never acts on
// a stale result.
type results struct {
	mu      sync.Mutex
	cur     map[key]Result // what Result returns
	sent    map[key]Result // what the consumer last got (or was seeded with)
	pending map[key]Update // changes not yet delivered, newest per key
	queue   []key          // keys of pending, oldest change first; may hold stale keys
	wake    chan struct{}  // capacity 1: "pending is not empty"
	out     chan Update
}

func newResults() *results {
	return &results{
		cur:     make(map[key]Result),
		sent:    make(map[key]Result),
		pending: make(map[key]Update),
		wake:    make(chan struct{}, 1),
		out:     make(chan Update),
	}
}

// seed sets a probe's initial result without publishing it: the consumer
// knows the initial results by contract (readiness Failure, liveness
// Success, startup Unknown) and reads them with get.
func (s *results) seed(id string, k Kind, r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur[key{id, k}] = r
	s.sent[key{id, k}] = r
}

// get returns a probe's current result.
func (s *results) get(id string, k Kind) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.cur[key{id, k}]
	return r, ok
}

// set records a result and queues it for the consumer if it changed. It
// reports whether the result changed. A probe that was removed (or never
// seeded) is ignored, so a worker finishing late cannot resurrect it.
func (s *results) set(u Update) bool {
	k := key{u.ContainerID, u.Kind}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.cur[k]
	if !ok || prev == u.Result {
		return false
	}
	s.cur[k] = u.Result
	if s.sent[k] == u.Result {
		// Flipped back before the consumer saw the flip: nothing to say.
		delete(s.pending, k)
		return true
	}
	if _, queued := s.pending[k]; !queued {
		s.queue = append(s.queue, k)
	}
	s.pending[k] = u
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// remove forgets every probe of a container attempt, delivered or not.
func (s *results) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range kinds {
		delete(s.cur, key{id, k})
		delete(s.sent, key{id, k})
		delete(s.pending, key{id, k})
	}
}

// next takes the oldest pending change, marking it as sent.
func (s *results) next() (Update, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 {
		k := s.queue[0]
		s.queue[0] = key{}
		s.queue = s.queue[1:]
		u, ok := s.pending[k]
		if !ok {
			continue // coalesced away or removed
		}
		delete(s.pending, k)
		s.sent[k] = u.Result
		return u, true
	}
	s.queue = nil // let the backing array go once drained
	return Update{}, false
}

// forward delivers pending changes on out until stop closes, then closes
// out. It is the only goroutine that blocks on the consumer.
func (s *results) forward(stop <-chan struct{}) {
	defer close(s.out)
	for {
		u, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-stop:
				return
			}
		}
		select {
		case s.out <- u:
		case <-stop:
			return
		}
	}
}
