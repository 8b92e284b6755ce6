package manifest

import "testing"

// FuzzParseFile checks that no input makes ParseFile panic and that every
// returned pod passed validation. `go test` runs the seeds; run
// `go test -fuzz=FuzzParseFile ./internal/manifest/` to search further.
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
	} {
		f.Add("p.yaml", []byte(seed))
		f.Add("p.json", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		pods, _ := ParseFile("/m/"+name, data, node)
		for _, p := range pods {
			if p.Pod == nil || p.Pod.UID == "" || p.Pod.Spec.NodeName != node {
				t.Fatalf("bad pod %+v", p)
			}
		}
	})
}
