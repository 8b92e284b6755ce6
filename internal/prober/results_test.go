package prober

import (
	"testing"
	"time"
)

// drain takes every pending change without the forwarder.
func drain(s *results) []Update {
	var us []Update
	for {
		u, ok := s.next()
		if !ok {
			return us
		}
		us = append(us, u)
	}
}

func upd(id string, k Kind, r Result) Update { return Update{ContainerID: id, Kind: k, Result: r} }

func TestResultsPublishOnlyChanges(t *testing.T) {
	type op struct {
		u       Update
		changed bool
	}
	tests := []struct {
		name string
		ops  []op
		want []Update
	}{
		{name: "same as seed", ops: []op{{upd("a", Readiness, Failure), false}}},
		{name: "unseeded probe is ignored", ops: []op{{upd("x", Readiness, Success), false}}},
		{name: "change then repeat", ops: []op{
			{upd("a", Readiness, Success), true}, {upd("a", Readiness, Success), false},
		}, want: []Update{upd("a", Readiness, Success)}},
		{name: "coalesced to the newest per key", ops: []op{
			{upd("a", Startup, Failure), true}, {upd("b", Liveness, Failure), true}, {upd("a", Startup, Success), true},
		}, want: []Update{upd("a", Startup, Success), upd("b", Liveness, Failure)}},
		{name: "flip back before delivery says nothing", ops: []op{
			{upd("a", Readiness, Success), true}, {upd("a", Readiness, Failure), true},
		}},
		{name: "flip back and forth again", ops: []op{
			{upd("a", Readiness, Success), true}, {upd("a", Readiness, Failure), true},
			{upd("b", Liveness, Failure), true}, {upd("a", Readiness, Success), true},
		}, want: []Update{upd("a", Readiness, Success), upd("b", Liveness, Failure)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newResults()
			for _, id := range []string{"a", "b"} {
				for _, k := range kinds {
					s.seed(id, k, k.initial())
				}
			}
			for i, o := range tt.ops {
				if got := s.set(o.u); got != o.changed {
					t.Errorf("op %d: set(%+v) changed = %v, want %v", i, o.u, got, o.changed)
				}
			}
			got := drain(s)
			if len(got) != len(tt.want) {
				t.Fatalf("published %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("update %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestResultsDeliveredThenRepeated(t *testing.T) {
	s := newResults()
	s.seed("a", Readiness, Failure)
	s.set(upd("a", Readiness, Success))
	if n := len(drain(s)); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
	// Back to Failure after the consumer saw Success: a change to publish.
	s.set(upd("a", Readiness, Failure))
	if got := drain(s); len(got) != 1 || got[0].Result != Failure {
		t.Fatalf("published %+v, want one Failure", got)
	}
}

func TestResultsRemove(t *testing.T) {
	s := newResults()
	s.seed("a", Liveness, Success)
	s.set(upd("a", Liveness, Failure))
	s.remove("a")
	if got := drain(s); len(got) != 0 {
		t.Errorf("removed attempt still published %+v", got)
	}
	if _, ok := s.get("a", Liveness); ok {
		t.Error("removed attempt still has a result")
	}
	if s.set(upd("a", Liveness, Success)) {
		t.Error("a late set resurrected a removed attempt")
	}
}

func TestResultsForward(t *testing.T) {
	s := newResults()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); s.forward(stop) }()
	s.seed("a", Readiness, Failure)
	s.set(upd("a", Readiness, Success))
	select {
	case u := <-s.out:
		if u != upd("a", Readiness, Success) {
			t.Errorf("got %+v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update forwarded")
	}
	// A consumer that stops reading does not hold the forwarder up at stop.
	s.set(upd("a", Readiness, Failure))
	close(stop)
	<-done
	for range s.out {
	}
}
