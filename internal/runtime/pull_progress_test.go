package runtime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// roundTripFunc answers requests with a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPullProgressStalledFor: only time with a request or a body in flight
// and no byte arriving counts toward the deadline; each byte, request and
// end of a body starts it again, and a body read to its end is done even
// before it is closed.
func TestPullProgressStalledFor(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := newPullProgress(clk)
	pr, pw := io.Pipe()
	hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: pr}, nil
	})}
	if err := p.updateClient(hc); err != nil {
		t.Fatal(err)
	}
	// Called again on a copy (containerd's per-host clients): no second
	// layer counting everything twice.
	cp := *hc
	if err := p.updateClient(&cp); err != nil {
		t.Fatal(err)
	}
	if _, ok := cp.Transport.(*progressTransport).next.(*progressTransport); ok {
		t.Fatal("transport wrapped twice")
	}

	clk.Step(time.Hour)
	if d := p.stalledFor(); d != 0 {
		t.Fatalf("nothing in flight: stalled for %s, want 0", d)
	}
	resp, err := cp.Get("http://registry.invalid/v2/x/blobs/sha256:1")
	if err != nil {
		t.Fatal(err)
	}
	clk.Step(20 * time.Second)
	if d := p.stalledFor(); d != 20*time.Second {
		t.Fatalf("open body, no bytes for 20s: stalled for %s", d)
	}
	got := make(chan string)
	go func() {
		b := make([]byte, 3)
		n, _ := resp.Body.Read(b)
		got <- string(b[:n])
	}()
	if _, err := pw.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "abc" {
		t.Fatalf("read %q", s)
	}
	if d := p.stalledFor(); d != 0 {
		t.Fatalf("right after a byte: stalled for %s, want 0", d)
	}
	clk.Step(59 * time.Second)
	if d := p.stalledFor(); d != 59*time.Second {
		t.Fatalf("59s after the last byte: stalled for %s", d)
	}
	// The end of the body (not closed yet) ends the wait.
	pw.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Hour)
	if d := p.stalledFor(); d != 0 {
		t.Fatalf("body read to its end: stalled for %s, want 0", d)
	}
	resp.Body.Close()
	if p.open != 0 {
		t.Fatalf("open %d after the body's end and close, want 0", p.open)
	}
	// A failed request is done too.
	failing := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused")
	})}
	_ = p.updateClient(failing)
	if _, err := failing.Get("http://registry.invalid/v2/"); err == nil {
		t.Fatal("no error")
	}
	if p.open != 0 {
		t.Fatalf("open %d after a failed request, want 0", p.open)
	}
}

// TestPullProgressWatchCancels: the watchdog cancels the pull with
// ErrPullStalled, naming the deadline and the config key, once a body
// has been silent for the deadline, and not before.
func TestPullProgressWatchCancels(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := newPullProgress(clk)
	p.begin() // a request that never answers
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan struct{})
	go func() { p.watch(ctx, time.Minute, cancel); close(done) }()
	waitTicker(t, clk)
	// Each tick (6 s) is checked; 54 s of silence is under the deadline.
	for i := 0; i < 9; i++ {
		clk.Step(6 * time.Second)
	}
	if ctx.Err() != nil {
		t.Fatalf("cancelled after %s of silence: %v", p.stalledFor(), context.Cause(ctx))
	}
	clk.Step(6 * time.Second)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("not cancelled after a minute of silence")
	}
	err := context.Cause(ctx)
	if !errors.Is(err, ErrPullStalled) || !strings.Contains(err.Error(), "1m0s (image-pull-progress-deadline)") {
		t.Fatalf("cause %v, want ErrPullStalled naming 1m0s and the key", err)
	}
}

// waitTicker waits until the watchdog's ticker is registered with the
// fake clock (and so waits for the next Step).
func waitTicker(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog never waited on its ticker")
		}
		time.Sleep(time.Millisecond)
	}
}
