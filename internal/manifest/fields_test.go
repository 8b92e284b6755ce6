package manifest

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// repoTests returns the names of every Test function in the repository's
// _test.go files.
func repoTests(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	names := map[string]bool{}
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// typeAt is the Go type of the field at a JSON path of specFields.
func typeAt(t *testing.T, path string) reflect.Type {
	t.Helper()
	typ := reflect.TypeOf(v1.Pod{})
	for _, seg := range strings.Split(path, ".") {
		seg = strings.TrimSuffix(seg, "[]")
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		f, ok := jsonField(typ, seg)
		if !ok {
			t.Fatalf("%s: no field %q in %s", path, seg, typ)
		}
		typ = f.Type
	}
	return typ
}

// jsonField finds a struct field by its JSON name, inline fields included.
func jsonField(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		n, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == name {
			return f, true
		}
		if f.Anonymous && (n == "" || strings.Contains(opts, "inline")) {
			if g, ok := jsonField(f.Type, name); ok {
				return g, true
			}
		}
	}
	return reflect.StructField{}, false
}

// exampleValue is a JSON value that sets a field of this type: not its
// zero value, and one element for lists and maps.
func exampleValue(typ reflect.Type) any {
	switch typ {
	case reflect.TypeOf(resource.Quantity{}):
		return "1"
	case reflect.TypeOf(intstr.IntOrString{}):
		return 80
	case reflect.TypeOf(metav1.Time{}):
		return "2026-01-01T00:00:00Z"
	}
	switch typ.Kind() {
	case reflect.Pointer:
		return exampleValue(typ.Elem())
	case reflect.Struct:
		return map[string]any{}
	case reflect.String:
		return "x"
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int32, reflect.Int64:
		return 1
	case reflect.Slice:
		return []any{exampleValue(typ.Elem())}
	case reflect.Map:
		return map[string]any{"x": exampleValue(typ.Elem())}
	}
	panic("no example for " + typ.String())
}

// podSetting returns a valid pod's JSON with the field at path set to
// value; lists on the way get one element (a volume gets a name).
func podSetting(path string, value any) []byte {
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "busybox:1.36", "command": []any{"sleep", "1"}}}},
	}
	obj := pod
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		name, list := strings.CutSuffix(seg, "[]")
		if !list {
			next, ok := obj[name].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[name] = next
			}
			obj = next
			continue
		}
		items, _ := obj[name].([]any)
		if len(items) == 0 {
			elem := map[string]any{}
			if name == "volumes" {
				elem["name"] = "v"
			}
			items = []any{elem}
			obj[name] = items
		}
		obj = items[0].(map[string]any)
	}
	obj[segs[len(segs)-1]] = value
	b, err := json.Marshal(pod)
	if err != nil {
		panic(err)
	}
	return b
}

// TestFieldCoverage: every field of the pod spec (walked as specFields
// does) is honoured, naming a test that exists, or refused, and then a
// pod setting it really gets that reason from validation, on that field.
func TestFieldCoverage(t *testing.T) {
	tests := repoTests(t)
	fields := specFields()
	known := map[string]bool{}
	for _, f := range fields {
		known[f] = true
		test, honoured := honouredFields[f]
		r, refused := refusedFields[f]
		switch {
		case honoured && refused:
			t.Errorf("%s is both honoured (%s) and refused (%q)", f, test, r.reason)
		case !honoured && !refused:
			t.Errorf("%s is neither honoured nor refused: list it in honouredFields with the test that covers it, or refuse it in validation and list it in refusedFields (internal/manifest/fields.go)", f)
		case honoured && !tests[test]:
			t.Errorf("%s: honoured by %s, which is no test in the repository", f, test)
		case refused:
			checkRefused(t, f, r)
		}
	}
	for f := range honouredFields {
		if !known[f] {
			t.Errorf("honouredFields lists %s, which is no field of the pod spec", f)
		}
	}
	for f := range refusedFields {
		if !known[f] {
			t.Errorf("refusedFields lists %s, which is no field of the pod spec", f)
		}
	}
}

func checkRefused(t *testing.T, path string, r refusal) {
	t.Helper()
	var value any
	if r.example != "" {
		if err := json.Unmarshal([]byte(r.example), &value); err != nil {
			t.Fatalf("%s: example %s: %v", path, r.example, err)
		}
	} else {
		value = exampleValue(typeAt(t, path))
	}
	data := podSetting(path, value)
	pods, problems := ParseFile("/etc/minikubelet/manifests/f.json", data, node)
	at := strings.ReplaceAll(path, "[]", "[0]")
	for _, p := range problems {
		onField := p.Field == at || strings.HasPrefix(p.Field, at+".") || strings.HasPrefix(p.Field, at+"[")
		if onField && strings.Contains(p.Reason, r.reason) {
			return
		}
	}
	t.Errorf("%s: a pod setting it (%s) got %d pods and problems %v, want one on %s saying %q", path, data, len(pods), problems, at, r.reason)
}

// TestInertFieldsAccepted: fields a scheduler or a cluster acts on are
// accepted and kept, so a manifest written for a cluster runs unchanged.
func TestInertFieldsAccepted(t *testing.T) {
	content := minimalPod + `  nodeSelector:
    disk: ssd
  affinity:
    nodeAffinity: {}
  schedulerName: my-scheduler
  tolerations:
  - key: dedicated
    operator: Exists
  priorityClassName: high
  priority: 1000
  preemptionPolicy: Never
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: zone
    whenUnsatisfiable: ScheduleAnyway
  subdomain: web
  enableServiceLinks: false
`
	pods, problems := parse(t, "inert.yaml", content)
	if len(problems) != 0 || len(pods) != 1 {
		t.Fatalf("got %d pods, problems %v", len(pods), problems)
	}
	s := pods[0].Pod.Spec
	if s.NodeSelector["disk"] != "ssd" || s.SchedulerName != "my-scheduler" || len(s.Tolerations) != 1 || s.PriorityClassName != "high" ||
		s.Priority == nil || *s.Priority != 1000 || s.Subdomain != "web" || s.EnableServiceLinks == nil || *s.EnableServiceLinks ||
		len(s.TopologySpreadConstraints) != 1 || s.Affinity == nil || s.PreemptionPolicy == nil {
		t.Errorf("fields lost: %+v", s)
	}
}
