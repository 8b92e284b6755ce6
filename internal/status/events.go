package status

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Component is the source.component of every event the daemon records.
const Component = "minikubelet"

// MaxEventMessage is the longest event message kept, in bytes (1 KiB, the
// API server's limit for an event's note); a longer one is cut and ends
// with "…".
const MaxEventMessage = 1024

// eventRing keeps the newest events; a repeat of a kept event (same
// object, type, reason and message) bumps its count and makes it the
// newest instead of taking a slot, as the API server's event correlator
// does. Every operation is O(1): a list in age order and an index by
// eventKey, so a flood of events costs each insert the same.
type eventRing struct {
	max   int
	order *list.List // of *v1.Event, oldest first
	index map[eventKey]*list.Element
}

// eventKey is what makes two events the same event.
type eventKey struct {
	obj                     v1.ObjectReference
	eventType, reason, text string
}

func newEventRing(max int) *eventRing {
	if max <= 0 {
		max = 1000
	}
	return &eventRing{max: max, order: list.New(), index: map[eventKey]*list.Element{}}
}

// repeat bumps the event under k if there is one.
func (r *eventRing) repeat(k eventKey, now metav1.Time) bool {
	el, ok := r.index[k]
	if !ok {
		return false
	}
	e := el.Value.(*v1.Event)
	e.Count++
	e.LastTimestamp = now
	// The newest now, so the ring drops the stalest first.
	r.order.MoveToBack(el)
	return true
}

// add appends a new event under k and drops the oldest past max.
func (r *eventRing) add(k eventKey, e *v1.Event) {
	r.index[k] = r.order.PushBack(e)
	for r.order.Len() > r.max {
		old := r.order.Remove(r.order.Front()).(*v1.Event)
		delete(r.index, eventKey{old.InvolvedObject, old.Type, old.Reason, old.Message})
	}
}

// Recorder records events about one object. It is what components get, so
// they never need the whole store.
type Recorder interface {
	// Event records an event; eventType is v1.EventTypeNormal or Warning.
	Event(obj v1.ObjectReference, eventType, reason, message string)
}

var _ Recorder = (*Store)(nil)

// Host is the node name put in events' source.host; set once at startup.
func (s *Store) SetHost(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.host = host
}

// Event implements Recorder. A message over MaxEventMessage is cut.
func (s *Store) Event(obj v1.ObjectReference, eventType, reason, message string) {
	message = cutMessage(message)
	now := metav1.NewTime(s.clock.Now())
	k := eventKey{obj, eventType, reason, message}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events.repeat(k, now) {
		return
	}
	name := obj.Name
	if name == "" {
		name = "minikubelet"
	}
	ns := obj.Namespace
	if ns == "" {
		ns = "default"
	}
	s.events.add(k, &v1.Event{
		TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              fmt.Sprintf("%s.%s", name, randomSuffix()),
			Namespace:         ns,
			CreationTimestamp: now,
		},
		InvolvedObject:      obj,
		Reason:              reason,
		Message:             message,
		Source:              v1.EventSource{Component: Component, Host: s.host},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                eventType,
		ReportingController: Component,
		ReportingInstance:   s.host,
	})
}

// cutMessage cuts m to MaxEventMessage bytes, dropping a rune the cut
// splits.
func cutMessage(m string) string {
	if len(m) <= MaxEventMessage {
		return m
	}
	return strings.ToValidUTF8(m[:MaxEventMessage-len("…")], "") + "…"
}

// Events returns the events about objects in namespace (all when empty)
// named name (all when empty), oldest first.
func (s *Store) Events(namespace, name string) []v1.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []v1.Event
	for el := s.events.order.Front(); el != nil; el = el.Next() {
		e := el.Value.(*v1.Event)
		if namespace != "" && e.InvolvedObject.Namespace != namespace {
			continue
		}
		if name != "" && e.InvolvedObject.Name != name {
			continue
		}
		out = append(out, *e.DeepCopy())
	}
	return out
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PodRef is the object reference events about a pod carry; fieldPath
// names a container ("spec.containers{web}") or is empty.
func PodRef(pod *v1.Pod, fieldPath string) v1.ObjectReference {
	return v1.ObjectReference{
		Kind:       "Pod",
		APIVersion: "v1",
		Namespace:  pod.Namespace,
		Name:       pod.Name,
		UID:        pod.UID,
		FieldPath:  fieldPath,
	}
}
