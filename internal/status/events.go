package status

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Component is the source.component of every event the daemon records.
const Component = "minikubelet"

// eventRing keeps the newest events; a repeat of the newest matching event
// (same object, type, reason and message) bumps its count instead of taking
// a slot, as the API server's event correlator does.
type eventRing struct {
	max    int
	events []*v1.Event
}

func newEventRing(max int) *eventRing {
	if max <= 0 {
		max = 1000
	}
	return &eventRing{max: max}
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

// Event implements Recorder.
func (s *Store) Event(obj v1.ObjectReference, eventType, reason, message string) {
	now := metav1.NewTime(s.clock.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.events.events) - 1; i >= 0; i-- {
		e := s.events.events[i]
		if e.InvolvedObject == obj && e.Type == eventType && e.Reason == reason && e.Message == message {
			e.Count++
			e.LastTimestamp = now
			// Move it to the end so the ring drops the stalest first.
			s.events.events = append(append(s.events.events[:i:i], s.events.events[i+1:]...), e)
			return
		}
	}
	name := obj.Name
	if name == "" {
		name = "minikubelet"
	}
	ns := obj.Namespace
	if ns == "" {
		ns = "default"
	}
	e := &v1.Event{
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
	}
	s.events.events = append(s.events.events, e)
	if over := len(s.events.events) - s.events.max; over > 0 {
		s.events.events = append(s.events.events[:0:0], s.events.events[over:]...)
	}
}

// Events returns the events about objects in namespace (all when empty)
// named name (all when empty), oldest first.
func (s *Store) Events(namespace, name string) []v1.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []v1.Event
	for _, e := range s.events.events {
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
