package manifest

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkSchema walks a decoded JSON document against the Go type it will be
// decoded into and reports, with full paths such as
// "spec.containers[0].imagee", every field the type does not have and every
// value of the wrong type.
//
// Why not only json.Decoder.DisallowUnknownFields: encoding/json reports
// the first unknown field without its path ("json: unknown field
// \"imagee\""), matches field names case-insensitively (so "Image" would be
// accepted here and rejected by a real API server, breaking the promise that
// manifests run unchanged on a cluster), and returns errors from custom
// unmarshalers such as resource.Quantity with no path at all.
func checkSchema(v any, t reflect.Type, path *field.Path) []issue {
	var out []issue
	walkSchema(v, t, path, &out)
	return out
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func walkSchema(v any, t reflect.Type, path *field.Path, out *[]issue) {
	if v == nil {
		// null is the zero value for every type, as encoding/json has it.
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		// Types like resource.Quantity, intstr.IntOrString and metav1.Time
		// know their own syntax: let them judge the value, and attach the
		// path their error lacks.
		raw, _ := json.Marshal(v)
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			*out = append(*out, issue{path.String(), fmt.Sprintf("invalid value %s: %v", excerpt(string(raw)), err)})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			*out = append(*out, wrongType(path, "an object", v))
			return
		}
		fields := structFields(t)
		for _, k := range sortedKeys(m) {
			if ft, ok := fields[k]; ok {
				walkSchema(m[k], ft, path.Child(k), out)
				continue
			}
			*out = append(*out, issue{path.Child(k).String(), unknownFieldReason(k, fields)})
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			*out = append(*out, wrongType(path, "an object", v))
			return
		}
		for _, k := range sortedKeys(m) {
			walkSchema(m[k], t.Elem(), path.Key(k), out)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// []byte is a base64 string in JSON.
			if _, ok := v.(string); !ok {
				*out = append(*out, wrongType(path, "a base64 string", v))
			}
			return
		}
		list, ok := v.([]any)
		if !ok {
			*out = append(*out, wrongType(path, "a list", v))
			return
		}
		for i, e := range list {
			walkSchema(e, t.Elem(), path.Index(i), out)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			is := wrongType(path, "a string", v)
			// YAML 1.1 reads yes/no/on/off and bare numbers as non-strings;
			// the fix is always the same.
			is.reason += " (put the value in quotes)"
			*out = append(*out, is)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			*out = append(*out, wrongType(path, "true or false", v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		checkNumber(v, path, out, func(s string) error {
			_, err := strconv.ParseInt(s, 10, t.Bits())
			return err
		}, t)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		checkNumber(v, path, out, func(s string) error {
			_, err := strconv.ParseUint(s, 10, t.Bits())
			return err
		}, t)
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			*out = append(*out, wrongType(path, "a number", v))
		}
	}
	// interface{} and anything else: encoding/json accepts any value.
}

func checkNumber(v any, path *field.Path, out *[]issue, parse func(string) error, t reflect.Type) {
	n, ok := v.(json.Number)
	if !ok {
		*out = append(*out, wrongType(path, "an integer", v))
		return
	}
	if err := parse(n.String()); err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			*out = append(*out, issue{path.String(), fmt.Sprintf("%s is out of range for %s", n, t.Kind())})
			return
		}
		*out = append(*out, issue{path.String(), fmt.Sprintf("must be an integer, got %s", n)})
	}
}

func wrongType(path *field.Path, want string, got any) issue {
	return issue{path.String(), fmt.Sprintf("must be %s, got %s", want, describeJSON(got))}
}

// describeJSON names a decoded JSON value for a message: `string "80"`,
// `number 1.5`, `a list`.
func describeJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(excerpt(x))
	case json.Number:
		return "number " + x.String()
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unknownFieldReason says a field is unknown and, when the name is a likely
// typo or a case slip of a real field, which one was meant.
func unknownFieldReason(name string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for f := range fields {
		if strings.EqualFold(f, name) {
			return fmt.Sprintf("unknown field; did you mean %q? (field names are case-sensitive)", f)
		}
		if d := editDistance(name, f); d < bestDist || (d == bestDist && f < best) {
			best, bestDist = f, d
		}
	}
	if best != "" && bestDist <= 2 && len(name) > 3 {
		return fmt.Sprintf("unknown field; did you mean %q?", best)
	}
	return "unknown field (not part of the v1 Pod schema)"
}

// editDistance is the Levenshtein distance, used only for "did you mean".
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields maps the JSON names of a struct's fields to their types,
// following encoding/json's rules: "-" is skipped, an anonymous struct
// without a name in its tag (metav1.TypeMeta, v1.ProbeHandler) is inlined.
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					m[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = ft
	}
	fieldCache.Store(t, m)
	return m
}
