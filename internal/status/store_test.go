package status

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func pod(uid, name string, ready v1.ConditionStatus, at time.Time) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: k8stypes.UID("u-" + uid), Name: name, Namespace: "default"}}
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(at)}}
	return p
}

func TestConditionTransitionTimeKeptWhileUnchanged(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewStore(clocktesting.NewFakeClock(t0), 10)
	s.SetPod(pod("1", "web", v1.ConditionFalse, t0))
	s.SetPod(pod("1", "web", v1.ConditionFalse, t0.Add(time.Minute)))
	got, _ := s.GetPod("default", "web")
	if !got.Status.Conditions[0].LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("transition time moved without a transition: %v", got.Status.Conditions[0].LastTransitionTime)
	}
	s.SetPod(pod("1", "web", v1.ConditionTrue, t0.Add(2*time.Minute)))
	got, _ = s.GetPod("default", "web")
	if !got.Status.Conditions[0].LastTransitionTime.Time.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("transition not recorded: %v", got.Status.Conditions[0].LastTransitionTime)
	}
}

func TestGetPodPrefersTheOneNotBeingDeleted(t *testing.T) {
	t0 := time.Now()
	s := NewStore(clocktesting.NewFakeClock(t0), 10)
	old := pod("old", "web", v1.ConditionTrue, t0)
	now := metav1.NewTime(t0)
	old.DeletionTimestamp = &now
	s.SetPod(old)
	s.SetPod(pod("new", "web", v1.ConditionFalse, t0))
	got, ok := s.GetPod("default", "web")
	if !ok || got.UID != "u-new" {
		t.Fatalf("got %v", got.UID)
	}
	if len(s.ListPods()) != 2 {
		t.Fatal("both pods must be listed")
	}
	// Copies: changing what we got changes nothing stored.
	got.Name = "changed"
	if again, _ := s.GetPod("default", "web"); again.Name != "web" {
		t.Fatal("store shares memory with callers")
	}
}

func TestEventsAggregateAndStayBounded(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	s := NewStore(clk, 3)
	s.SetHost("node1")
	p := pod("1", "web", v1.ConditionTrue, clk.Now())
	ref := PodRef(p, "spec.containers{c}")
	s.Event(ref, v1.EventTypeWarning, "Unhealthy", "Liveness probe failed")
	clk.Step(time.Second)
	s.Event(ref, v1.EventTypeWarning, "Unhealthy", "Liveness probe failed")
	evs := s.Events("default", "web")
	if len(evs) != 1 || evs[0].Count != 2 || !evs[0].LastTimestamp.After(evs[0].FirstTimestamp.Time) {
		t.Fatalf("not aggregated: %+v", evs)
	}
	if evs[0].Source.Component != "minikubelet" || evs[0].Source.Host != "node1" {
		t.Errorf("source %+v", evs[0].Source)
	}
	for i := 0; i < 5; i++ {
		s.Event(ref, v1.EventTypeNormal, "Started", fmt.Sprintf("n%d", i))
	}
	if all := s.Events("", ""); len(all) != 3 || all[2].Message != "n4" {
		t.Fatalf("ring: %d events, last %q", len(all), all[len(all)-1].Message)
	}
	if other := s.Events("default", "other"); len(other) != 0 {
		t.Fatalf("filter by name: %d", len(other))
	}
}

// TestEventInsertCostIsFlat checks that recording an event into a full
// ring costs the same whatever the ring's size: a flood of events once
// copied the whole ring on every insert (review finding #4), blocking
// every status write for seconds.
func TestEventInsertCostIsFlat(t *testing.T) {
	const size = 10_000
	clk := clocktesting.NewFakeClock(time.Now())
	s := NewStore(clk, size)
	ref := v1.ObjectReference{Kind: "Node", Name: "n"}
	for i := 0; i < size; i++ {
		s.Event(ref, v1.EventTypeWarning, "InvalidManifest", fmt.Sprintf("m%d", i))
	}
	var before, after runtime.MemStats
	const inserts = 1000
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < inserts; i++ {
		s.Event(ref, v1.EventTypeWarning, "InvalidManifest", fmt.Sprintf("new%d", i))
		// A repeat of the oldest event moves it to the newest end.
		s.Event(ref, v1.EventTypeWarning, "InvalidManifest", fmt.Sprintf("m%d", size-1))
	}
	runtime.ReadMemStats(&after)
	// An event is about 1 KiB; a copy of the ring's pointers alone would
	// be 80 KB.
	if per := (after.TotalAlloc - before.TotalAlloc) / inserts; per > 8<<10 {
		t.Errorf("%d bytes allocated per insert into a ring of %d, want at most 8 KiB", per, size)
	}
	evs := s.Events("", "")
	if len(evs) != size || evs[size-1].Message != fmt.Sprintf("m%d", size-1) || evs[size-1].Count != inserts+1 || evs[size-2].Message != fmt.Sprintf("new%d", inserts-1) {
		t.Fatalf("ring order wrong: %d events, last %q (count %d), before it %q", len(evs), evs[size-1].Message, evs[size-1].Count, evs[size-2].Message)
	}
}

func TestEventMessageCut(t *testing.T) {
	s := NewStore(clocktesting.NewFakeClock(time.Now()), 10)
	ref := v1.ObjectReference{Kind: "Node", Name: "n"}
	long := strings.Repeat("é", MaxEventMessage)
	s.Event(ref, v1.EventTypeWarning, "InvalidManifest", long)
	s.Event(ref, v1.EventTypeWarning, "InvalidManifest", long)
	evs := s.Events("", "")
	if len(evs) != 1 || evs[0].Count != 2 {
		t.Fatalf("a cut message does not aggregate: %d events", len(evs))
	}
	if m := evs[0].Message; len(m) > MaxEventMessage || !utf8.ValidString(m) || !strings.HasSuffix(m, "…") {
		t.Errorf("message of %d bytes, valid UTF-8 %v: %q…", len(m), utf8.ValidString(m), m[:20])
	}
}
