package manifest

import (
	"bytes"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/minikubelet/minikubelet/internal/manifest/manifesttest"
)

// FuzzParseFile checks that no input makes ParseFile panic, that every
// returned pod passed validation, that problems stay within their bounds,
// and that the YAML conversion is sigs.k8s.io/yaml's. `go test` runs the
// seeds; run `go test -fuzz=FuzzParseFile ./internal/manifest/` to search
// further.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		minimalPod,
		minimalPod + "---\n" + podYAML("b", "busybox"),
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"a","image":"b"}]}}`,
		"\x00\x01\x02",
		"---\n---\n...\n",
		"a: &a [*a, *a]\n",
		"{",
		minimalPod + "    livenessProbe: {httpGet: {port: http}}\n    ports: [{name: http, containerPort: 80}]\n",
		// Hostile files (review findings #1 and #4): aliases of a large
		// scalar, nested aliases, and floods of documents.
		string(manifesttest.AliasBomb("bomb", 100<<10, 1000)),
		string(manifesttest.NestedAliasBomb(1<<10, 10, 5)),
		string(manifesttest.NestedAliasBomb(8, 10, 7)),
		string(manifesttest.DocumentFlood(100_000)),
		string(manifesttest.JSONFlood(100_000)),
		string(docs(MaxDocuments, []byte("a: 1\n"))),
	} {
		f.Add("p.yaml", []byte(seed))
		f.Add("p.json", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		pods, problems := ParseFile("/m/"+name, data, node)
		for _, p := range pods {
			if p.Pod == nil || p.Pod.UID == "" || p.Pod.Spec.NodeName != node {
				t.Fatalf("bad pod %+v", p)
			}
		}
		if len(problems) > MaxProblemsPerFile+1 {
			t.Fatalf("%d problems", len(problems))
		}
		for _, p := range problems {
			if len(p.Reason) > maxReasonLen || len(p.Field) > maxFieldLen {
				t.Fatalf("problem too long: %d byte reason, %d byte field", len(p.Reason), len(p.Field))
			}
		}
		fuzzSameAsLibrary(t, name, data)
	})
}

// fuzzSameAsLibrary checks every YAML document of a file with
// sameAsLibrary.
func fuzzSameAsLibrary(t *testing.T, name string, data []byte) {
	ds, err := splitDocuments(name, bytes.TrimPrefix(data, utf8BOM))
	if err != nil {
		return
	}
	for _, d := range ds {
		if !d.json {
			sameAsLibrary(t, d.data)
		}
	}
}

// sameAsLibrary compares yamlToJSON with sigs.k8s.io/yaml on a document
// that fits the expansion limit (the library has none, so on others it
// could take GiBs), and checks that yamlToJSON counted every byte it wrote.
func sameAsLibrary(t *testing.T, doc []byte) {
	t.Helper()
	budget := int64(MaxExpandedSize)
	got, err := yamlToJSON(doc, &budget)
	if budget < 0 {
		return
	}
	want, wantErr := sigsyaml.YAMLToJSONStrict(doc)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Errorf("%q: got %s, %v; the library gives %s, %v", doc, got, err, want, wantErr)
	}
	if err == nil && int64(len(got)) > MaxExpandedSize-budget {
		t.Errorf("%q: %d bytes of JSON, but only %d counted", doc, len(got), MaxExpandedSize-budget)
	}
}
