package kubeapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/minikubelet/minikubelet/internal/printers"
)

// wantsTable reports whether the client asked for a meta.k8s.io/v1 Table
// (kubectl's printing path); any other Accept gets the object itself.
func wantsTable(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		params := map[string]string{}
		for _, p := range strings.Split(part, ";")[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			params[k] = v
		}
		if params["as"] == "Table" && params["g"] == "meta.k8s.io" && params["v"] == "v1" {
			return true
		}
	}
	return false
}

func col(name, typ, desc string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc, Priority: priority}
}

// rowObject is the row's object as kubectl's default includeObject=Metadata
// has it: kubectl reads the namespace from it for -A.
func rowObject(kind string, meta metav1.ObjectMeta) runtime.RawExtension {
	raw, _ := json.Marshal(metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
		ObjectMeta: meta,
	})
	return runtime.RawExtension{Raw: raw}
}

func newTable(cols []metav1.TableColumnDefinition) *metav1.Table {
	return &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta:          metav1.ListMeta{ResourceVersion: "0"},
		ColumnDefinitions: cols,
		Rows:              []metav1.TableRow{},
	}
}

// podTable has the columns and values of `minikubelet get pods`
// (internal/printers): NAME READY STATUS RESTARTS AGE, and IP NODE at
// priority 1 (kubectl's -o wide).
func podTable(pods []v1.Pod, now time.Time) *metav1.Table {
	t := newTable([]metav1.TableColumnDefinition{
		col("Name", "string", "Name of the pod", 0),
		col("Ready", "string", "Ready containers of all containers", 0),
		col("Status", "string", "The pod's status as kubectl shows it", 0),
		col("Restarts", "string", "Container restarts", 0),
		col("Age", "string", "Time since the pod was created", 0),
		col("IP", "string", "The pod's IP address", 1),
		col("Node", "string", "The node the pod runs on", 1),
	})
	t.ResourceVersion = listVersion(pods)
	for i := range pods {
		r := printers.PodRowFor(&pods[i], now)
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{r.Name, r.Ready, r.Status, r.Restarts, r.Age, r.IP, r.Node},
			Object: rowObject("Pod", pods[i].ObjectMeta),
		})
	}
	return t
}

func namespaceTable(nss []v1.Namespace, now time.Time) *metav1.Table {
	t := newTable([]metav1.TableColumnDefinition{
		col("Name", "string", "Name of the namespace", 0),
		col("Status", "string", "The namespace's phase", 0),
		col("Age", "string", "Time since the namespace was created", 0),
	})
	for _, n := range nss {
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{n.Name, string(n.Status.Phase), printers.Since(n.CreationTimestamp.Time, now)},
			Object: rowObject("Namespace", n.ObjectMeta),
		})
	}
	return t
}

func eventTable(events []v1.Event, now time.Time) *metav1.Table {
	t := newTable([]metav1.TableColumnDefinition{
		col("Last Seen", "string", "Time since the event was last seen", 0),
		col("Type", "string", "Normal or Warning", 0),
		col("Reason", "string", "Why the event happened", 0),
		col("Object", "string", "The object the event is about", 0),
		col("Message", "string", "What happened", 0),
	})
	for i := range events {
		e := &events[i]
		obj := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{printers.EventAge(e, now), e.Type, e.Reason, obj, strings.TrimSpace(e.Message)},
			Object: rowObject("Event", e.ObjectMeta),
		})
	}
	return t
}
