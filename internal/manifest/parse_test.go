package manifest

import (
	"strings"
	"testing"
)

func TestProblemError(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "/m/a.yaml", Field: "spec.containers[1].name", Reason: "required"}, "/m/a.yaml: spec.containers[1].name: required"},
		{Problem{File: "/m/a.yaml", Reason: "not a text file"}, "/m/a.yaml: not a text file"},
		{Problem{File: "/m/a.yaml", Doc: 1, Field: "kind", Reason: "x"}, "/m/a.yaml (document 2): kind: x"},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestParseDecoding(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		wantField           string
		wantReason          string // substring
	}{
		{"unknown field named with path", "p.yaml", minimalPod + "    imagee: x\n", "spec.containers[0].imagee", `did you mean "image"`},
		{"unknown top-level field", "p.yaml", minimalPod + "extra: 1\n", "extra", "unknown field"},
		{"wrong case is unknown", "p.yaml", strings.Replace(minimalPod, "image:", "Image:", 1), "spec.containers[0].Image", "case-sensitive"},
		{"service", "p.yaml", strings.Replace(minimalPod, "kind: Pod", "kind: Service", 1), "kind", `must be "Pod", got "Service"`},
		{"missing kind", "p.yaml", strings.Replace(minimalPod, "kind: Pod\n", "", 1), "kind", `missing; must be "Pod"`},
		{"list kind", "p.yaml", strings.Replace(minimalPod, "kind: Pod", "kind: List", 1), "kind", "own document"},
		{"wrong apiVersion", "p.yaml", strings.Replace(minimalPod, "apiVersion: v1", "apiVersion: apps/v1", 1), "apiVersion", `must be "v1", got "apps/v1"`},
		{"string port", "p.yaml", minimalPod + "    ports:\n    - containerPort: \"80\"\n", "spec.containers[0].ports[0].containerPort", `must be an integer, got string "80"`},
		{"fractional port", "p.yaml", minimalPod + "    ports:\n    - containerPort: 80.5\n", "spec.containers[0].ports[0].containerPort", "must be an integer, got 80.5"},
		{"port out of int32", "p.yaml", minimalPod + "    ports:\n    - containerPort: 99999999999\n", "spec.containers[0].ports[0].containerPort", "out of range"},
		{"yes is not a string", "p.yaml", minimalPod + "    env:\n    - name: A\n      value: yes\n", "spec.containers[0].env[0].value", "quotes"},
		{"bad quantity", "p.yaml", minimalPod + "    resources:\n      limits:\n        cpu: lots\n", "spec.containers[0].resources.limits[cpu]", "quantities must match"},
		{"containers not a list", "p.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: nginx\n", "spec.containers", "must be a list"},
		{"document is a list", "p.yaml", "- a\n- b\n", "", "must be a Pod object, got a list"},
		{"duplicate YAML key", "p.yaml", "apiVersion: v1\nkind: Pod\nkind: Pod\n", "", `line 3: key "kind" already set`},
		{"YAML syntax error line counts from file top", "p.yaml", minimalPod + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n", "", "line 14: mapping values"},
		{"duplicate JSON key", "p.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"}}`, "metadata.name", "duplicate key"},
		{"JSON syntax error", "p.json", "{\"apiVersion\": \"v1\",\n\"kind\": }", "", "invalid JSON at line 2"},
		{"binary junk", "p.yaml", "\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", "", "not a text file"},
		{"invalid UTF-8", "p.yaml", "apiVersion: v1\nkind: \xff\xfe\n", "", "not a text file"},
		{"control characters", "p.yaml", "apiVersion: v1\x07\nkind: Pod\n", "", "invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods, problems := parse(t, tc.file, tc.content)
			var doc1 bool
			if strings.Contains(tc.name, "file top") {
				// The first document is good; the problem is in the second.
				if len(pods) != 1 || len(problems) != 1 {
					t.Fatalf("want 1 pod and 1 problem, got %d pods, problems %v", len(pods), problems)
				}
				doc1 = true
			} else {
				onlyProblem(t, pods, problems)
			}
			p := problems[0]
			if p.Field != tc.wantField || !strings.Contains(p.Reason, tc.wantReason) {
				t.Errorf("got %q, want field %q and reason containing %q", p.Error(), tc.wantField, tc.wantReason)
			}
			if doc1 && p.Doc != 1 {
				t.Errorf("problem in document %d, want 1", p.Doc)
			}
		})
	}
}

func TestParseMultiDocument(t *testing.T) {
	content := "# leading comment\n---\n" + podYAML("one", "busybox:1.36") +
		"---\n# only a comment\n---\n" +
		podYAML("two", "busybox:1.36") + "    bogus: true\n" +
		"--- # a separator with a comment\n" + podYAML("three", "busybox:1.36") +
		"...\n"
	pods, problems := parse(t, "multi.yaml", content)
	if len(pods) != 2 || pods[0].Pod.Name != "one" || pods[1].Pod.Name != "three" {
		t.Fatalf("want pods one and three, got %+v", pods)
	}
	if pods[0].Doc != 0 || pods[1].Doc != 2 {
		t.Errorf("doc indexes = %d, %d; want 0, 2 (empty documents do not count)", pods[0].Doc, pods[1].Doc)
	}
	if len(problems) != 1 || problems[0].Doc != 1 || problems[0].Field != "spec.containers[0].bogus" {
		t.Fatalf("want one problem for document 1, got %v", problems)
	}
	if want := "/etc/minikubelet/manifests/multi.yaml (document 2): spec.containers[0].bogus:"; !strings.HasPrefix(problems[0].Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", problems[0].Error(), want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, content := range []string{"", "---\n", "# nothing here\n---\n# still nothing\n", "null\n", "\n\n   \n"} {
		pods, problems := parse(t, "empty.yaml", content)
		if len(pods) != 0 || len(problems) != 0 {
			t.Errorf("%q: want nothing, got pods %v problems %v", content, pods, problems)
		}
	}
}

func TestParseJSON(t *testing.T) {
	const one = `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j%d"},
 "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}`
	content := strings.ReplaceAll(one, "%d", "1") + "\n" + strings.ReplaceAll(one, "%d", "2")
	for _, name := range []string{"pod.json", "pod.yaml"} {
		pods, problems := parse(t, name, content)
		if len(problems) != 0 || len(pods) != 2 {
			t.Fatalf("%s: want 2 pods, got %d, problems %v", name, len(pods), problems)
		}
		if pods[1].Pod.Name != "j2" || pods[1].Doc != 1 || pods[0].Pod.Spec.Containers[0].Ports[0].Protocol != "TCP" {
			t.Errorf("%s: unexpected pods %+v", name, pods)
		}
	}
	// A YAML flow mapping also starts with '{' and must still parse.
	flow := `{apiVersion: v1, kind: Pod, metadata: {name: f}, spec: {containers: [{name: a, image: busybox}]}}`
	if pods, problems := parse(t, "flow.yaml", flow); len(pods) != 1 || len(problems) != 0 {
		t.Errorf("YAML flow mapping: got pods %v problems %v", pods, problems)
	}
}

func TestParseBOMAndCRLF(t *testing.T) {
	content := "\xEF\xBB\xBF" + strings.ReplaceAll(minimalPod+"---\n"+podYAML("b", "busybox"), "\n", "\r\n")
	pods, problems := parse(t, "win.yaml", content)
	if len(pods) != 2 || len(problems) != 0 {
		t.Fatalf("want 2 pods, got %d, problems %v", len(pods), problems)
	}
}

func TestParseIgnoresFileUIDAndStatus(t *testing.T) {
	content := strings.Replace(minimalPod, "  name: web\n", "  name: web\n  uid: 11111111-2222-3333-4444-555555555555\n", 1) +
		"status:\n  phase: Running\n"
	pods, problems := parse(t, "p.yaml", content)
	if len(problems) != 0 || len(pods) != 1 {
		t.Fatalf("problems %v", problems)
	}
	if pods[0].Pod.UID == "11111111-2222-3333-4444-555555555555" {
		t.Error("metadata.uid from the file was kept")
	}
	if pods[0].Pod.Status.Phase != "" {
		t.Error("status from the file was kept")
	}
}

func TestParseFileTooBig(t *testing.T) {
	data := make([]byte, MaxFileSize+1)
	_, problems := ParseFile("/m/big.yaml", data, node)
	if len(problems) != 1 || !strings.Contains(problems[0].Reason, "10 MiB") {
		t.Fatalf("got %v", problems)
	}
}
