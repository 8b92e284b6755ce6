package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ErrPullStalled is returned (wrapped) by PullImage when the registry sent
// nothing for the progress deadline.
var ErrPullStalled = errors.New("image pull stalled")

// pullProgress follows the registry traffic of one pull, so that a
// watchdog can cancel the pull once bytes stop arriving (the kubelet's
// --image-pull-progress-deadline). The containerd client fetches in this
// process, through the resolver's HTTP clients, so their transport sees
// every request and every byte of every body.
//
// Only time with something in flight counts: a request waiting for its
// answer, or a body not yet read to its end. While nothing is (containerd
// unpacking a layer between fetches, say), the pull is busy, not stalled.
type pullProgress struct {
	clock clock.WithTicker

	mu sync.Mutex
	// open counts requests waiting for headers and bodies not yet done.
	open int
	// last is the last sign of progress: a request sent, a byte
	// received, a body done.
	last time.Time
}

func newPullProgress(clk clock.WithTicker) *pullProgress {
	return &pullProgress{clock: clk, last: clk.Now()}
}

func (p *pullProgress) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open++
	p.last = p.clock.Now()
}

func (p *pullProgress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open--
	p.last = p.clock.Now()
}

func (p *pullProgress) received() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = p.clock.Now()
}

// stalledFor is how long the pull has waited for the registry with
// something in flight; 0 when nothing is.
func (p *pullProgress) stalledFor() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == 0 {
		return 0
	}
	return p.clock.Since(p.last)
}

// watch cancels the pull with ErrPullStalled once it has waited deadline
// for the registry, and returns then or when ctx ends.
func (p *pullProgress) watch(ctx context.Context, deadline time.Duration, cancel context.CancelCauseFunc) {
	// A tenth of the deadline: the cancel comes at most 10% late.
	t := p.clock.NewTicker(max(deadline/10, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if p.stalledFor() >= deadline {
				cancel(fmt.Errorf("%w: nothing received from the registry for %s (image-pull-progress-deadline)", ErrPullStalled, deadline))
				return
			}
		}
	}
}

// updateClient makes c's requests count for p; it suits
// config.HostOptions.UpdateClient, which may be called again on a copy
// of a client it already updated.
func (p *pullProgress) updateClient(c *http.Client) error {
	if t, ok := c.Transport.(*progressTransport); ok && t.p == p {
		return nil
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &progressTransport{p: p, next: next}
	return nil
}

// progressTransport reports a pull's requests and bytes to its
// pullProgress.
type progressTransport struct {
	p    *pullProgress
	next http.RoundTripper
}

func (t *progressTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.p.begin()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.p.end()
		return nil, err
	}
	resp.Body = &progressBody{p: t.p, rc: resp.Body}
	return resp, nil
}

// progressBody is done at its end (or error), or when closed, whichever
// comes first, so that a body read to its end but closed late does not
// count as in flight.
type progressBody struct {
	p    *pullProgress
	rc   io.ReadCloser
	once sync.Once
}

func (b *progressBody) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	if n > 0 {
		b.p.received()
	}
	if err != nil {
		b.done()
	}
	return n, err
}

func (b *progressBody) Close() error {
	b.done()
	return b.rc.Close()
}

func (b *progressBody) done() { b.once.Do(b.p.end) }
