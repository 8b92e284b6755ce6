package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// listDoc is the shape kubectl prints for several objects: a v1 List.
type listDoc struct {
	APIVersion string   `json:"apiVersion"`
	Items      []any    `json:"items"`
	Kind       string   `json:"kind"`
	Metadata   listMeta `json:"metadata"`
}

type listMeta struct {
	ResourceVersion string `json:"resourceVersion"`
}

// PrintObject writes obj as kubectl's `-o json` (keys sorted, four-space
// indent, trailing newline) or `-o yaml` does. obj may be a Pod, PodList,
// []Pod, Event, EventList or []Event (values or pointers); items get their
// kind and apiVersion filled in and lists become kind "List", apiVersion
// "v1", as kubectl prints them. managedFields are left out, as kubectl
// does by default. Any other value is printed as it is.
func PrintObject(w io.Writer, obj any, format string) error {
	doc := normalize(obj)
	var out []byte
	switch format {
	case "json":
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		// Going through a generic value sorts the keys, as kubectl's
		// unstructured objects do; UseNumber keeps int64 values exact.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var generic any
		if err := dec.Decode(&generic); err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		out, err = json.MarshalIndent(generic, "", "    ")
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		out = append(out, '\n')
	case "yaml":
		var err error
		out, err = yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
	default:
		return fmt.Errorf("unknown output format %q (want json or yaml)", format)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write %s: %w", format, err)
	}
	return nil
}

// normalize returns what PrintObject encodes for obj; it never modifies
// obj.
func normalize(obj any) any {
	switch o := obj.(type) {
	case *v1.Pod:
		if o == nil {
			return nil
		}
		return podDoc(*o)
	case v1.Pod:
		return podDoc(o)
	case *v1.PodList:
		if o == nil {
			return nil
		}
		return podListDoc(o.Items)
	case v1.PodList:
		return podListDoc(o.Items)
	case []v1.Pod:
		return podListDoc(o)
	case *v1.Event:
		if o == nil {
			return nil
		}
		return eventDoc(*o)
	case v1.Event:
		return eventDoc(o)
	case *v1.EventList:
		if o == nil {
			return nil
		}
		return eventListDoc(o.Items)
	case v1.EventList:
		return eventListDoc(o.Items)
	case []v1.Event:
		return eventListDoc(o)
	}
	return obj
}

// podDoc takes pod by value: the copy shares maps and slices with the
// caller's pod, so only top-level fields may be assigned.
func podDoc(pod v1.Pod) v1.Pod {
	if pod.Kind == "" {
		pod.Kind = "Pod"
	}
	if pod.APIVersion == "" {
		pod.APIVersion = "v1"
	}
	pod.ManagedFields = nil
	return pod
}

func podListDoc(pods []v1.Pod) listDoc {
	items := make([]any, 0, len(pods))
	for _, p := range sortedPods(pods) {
		items = append(items, podDoc(*p))
	}
	return listDoc{APIVersion: "v1", Items: items, Kind: "List"}
}

func eventDoc(ev v1.Event) v1.Event {
	if ev.Kind == "" {
		ev.Kind = "Event"
	}
	if ev.APIVersion == "" {
		ev.APIVersion = "v1"
	}
	ev.ManagedFields = nil
	return ev
}

func eventListDoc(events []v1.Event) listDoc {
	items := make([]any, 0, len(events))
	for _, e := range events {
		items = append(items, eventDoc(e))
	}
	return listDoc{APIVersion: "v1", Items: items, Kind: "List"}
}
