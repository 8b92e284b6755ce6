package printers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func runningPod(ns, name string, age time.Duration) v1.Pod {
	p := mkPod(v1.PodRunning, []string{"app"}, []v1.ContainerStatus{status("app", running(), true)})
	p.Namespace, p.Name, p.CreationTimestamp = ns, name, ago(age)
	return *p
}

func TestPrintPods(t *testing.T) {
	crashing := runningPod("kube-system", "coredns-5d78c9869d-abcde", 3*time.Hour)
	crashing.Status.ContainerStatuses[0] = restarted(status("app", waiting("CrashLoopBackOff"), false), 12, 2*time.Minute)
	crashing.Spec.NodeName = "edge-1"
	crashing.Status.PodIPs = []v1.PodIP{{IP: "10.88.0.12"}}

	tests := []struct {
		name        string
		pods        []v1.Pod
		wide, allNS bool
		want        string
	}{
		{"simple", []v1.Pod{runningPod("default", "nginx", 5*time.Minute)}, false, false,
			"NAME    READY   STATUS    RESTARTS   AGE\n" +
				"nginx   1/1     Running   0          5m\n"},
		{"sorted, all namespaces, wide", []v1.Pod{runningPod("default", "nginx", 90*time.Second), crashing}, true, true,
			"NAMESPACE     NAME                       READY   STATUS             RESTARTS      AGE   IP           NODE\n" +
				"default       nginx                      1/1     Running            0             90s   <none>       <none>\n" +
				"kube-system   coredns-5d78c9869d-abcde   0/1     CrashLoopBackOff   12 (2m ago)   3h    10.88.0.12   edge-1\n"},
		{"empty", nil, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := PrintPods(&buf, tt.pods, tt.wide, tt.allNS, now); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", buf.String(), tt.want)
			}
		})
	}
}

func TestPrintPodsOrNone(t *testing.T) {
	tests := []struct {
		ns         string
		allNS      bool
		wantNotice string
	}{
		{"default", false, "No resources found in default namespace.\n"},
		{"", true, "No resources found\n"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		empty, err := PrintPodsOrNone(&out, &errOut, nil, tt.ns, false, tt.allNS, now)
		if err != nil || !empty || out.Len() != 0 || errOut.String() != tt.wantNotice {
			t.Errorf("ns %q: empty=%v err=%v out=%q errOut=%q", tt.ns, empty, err, out.String(), errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	empty, err := PrintPodsOrNone(&out, &errOut, []v1.Pod{runningPod("default", "a", time.Minute)}, "default", false, false, now)
	if err != nil || empty || !strings.HasPrefix(out.String(), "NAME ") || errOut.Len() != 0 {
		t.Errorf("non-empty: empty=%v err=%v out=%q errOut=%q", empty, err, out.String(), errOut.String())
	}
}

func TestPrintNames(t *testing.T) {
	var buf bytes.Buffer
	if err := PrintNames(&buf, []v1.Pod{runningPod("default", "web", 0), runningPod("default", "api", 0)}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "pod/api\npod/web\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPrintObjectJSON(t *testing.T) {
	pod := runningPod("default", "nginx", time.Minute)
	var buf bytes.Buffer
	if err := PrintObject(&buf, &pod, "json"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n") || !strings.HasSuffix(out, "}\n") {
		t.Errorf("unexpected json layout:\n%s", out)
	}
	if pod.Kind != "" || pod.APIVersion != "" {
		t.Error("PrintObject modified its input")
	}

	buf.Reset()
	list := &v1.PodList{Items: []v1.Pod{pod, runningPod("default", "api", time.Minute)}}
	if err := PrintObject(&buf, list, "json"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   map[string]string
		Items      []v1.Pod `json:"items"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not json: %v\n%s", err, buf.String())
	}
	if got.APIVersion != "v1" || got.Kind != "List" || len(got.Items) != 2 || got.Items[0].Kind != "Pod" || got.Items[0].Name != "api" {
		t.Errorf("unexpected list: %+v", got)
	}
	if rv, ok := got.Metadata["resourceVersion"]; !ok || rv != "" {
		t.Errorf("list metadata = %v, want resourceVersion \"\"", got.Metadata)
	}
	if !strings.HasPrefix(buf.String(), "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n") {
		t.Errorf("keys not sorted like kubectl:\n%s", buf.String())
	}
}

func TestPrintObjectYAML(t *testing.T) {
	pod := runningPod("default", "nginx", time.Minute)
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	var buf bytes.Buffer
	if err := PrintObject(&buf, pod, "yaml"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "apiVersion: v1\nkind: Pod\nmetadata:\n") || strings.Contains(buf.String(), "managedFields") {
		t.Errorf("unexpected yaml:\n%s", buf.String())
	}
	var back v1.Pod
	if err := yaml.UnmarshalStrict(buf.Bytes(), &back); err != nil || back.Name != "nginx" {
		t.Errorf("round trip: %v %q", err, back.Name)
	}

	buf.Reset()
	if err := PrintObject(&buf, []v1.Pod{pod}, "yaml"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n") ||
		!strings.HasSuffix(buf.String(), "kind: List\nmetadata:\n  resourceVersion: \"\"\n") {
		t.Errorf("unexpected list yaml:\n%s", buf.String())
	}
}

func TestPrintObjectUnknownFormat(t *testing.T) {
	if err := PrintObject(&bytes.Buffer{}, &v1.Pod{}, "xml"); err == nil {
		t.Error("want an error for format xml")
	}
}
