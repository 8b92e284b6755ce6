package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v2"
)

// MaxExpandedSize bounds, in bytes, the JSON that the YAML documents of one
// file turn into (20 MiB, twice MaxFileSize). It is what makes an alias
// harmless: `y: [*a, *a, ...]` with a large scalar behind &a is a small
// file whose JSON repeats the scalar at every *a. Without aliases a file's
// JSON is about as large as the file.
const MaxExpandedSize = 2 * MaxFileSize

// errExpansion is yamlToJSON's error when a file's budget is spent.
var errExpansion = errors.New("expansion limit")

// yamlToJSON converts one YAML document to JSON as sigs.k8s.io/yaml's
// YAMLToJSONStrict does (yaml.v2 in strict mode, YAML 1.1, map keys turned
// into strings the same way), but spends *budget bytes for the JSON it will
// write and returns errExpansion, before writing anything, once the budget
// is gone.
//
// Why not YAMLToJSONStrict: yaml.v2 bounds alias expansion by the number of
// nodes decoded, not by bytes. The decoded value shares one copy of an
// aliased scalar, but json.Marshal writes every use of it, so a 1 MiB
// file asked for GiBs before anything could look at the result. Here the
// size is counted on the decoded value, which is as large as the file, and
// json.Marshal runs only when its output fits. TestYAMLToJSONMatchesLibrary
// and the fuzz test keep the two conversions identical.
func yamlToJSON(doc []byte, budget *int64) ([]byte, error) {
	var v any
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return nil, err
	}
	c := converter{left: *budget}
	obj, err := c.convert(v)
	*budget = c.left
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// converter turns yaml.v2's map[any]any into map[string]any and counts,
// from above, the bytes json.Marshal will write for what it converts.
type converter struct {
	left int64
}

func (c *converter) spend(n int) error {
	c.left -= int64(n)
	if c.left < 0 {
		return errExpansion
	}
	return nil
}

func (c *converter) convert(v any) (any, error) {
	switch x := v.(type) {
	case map[any]any:
		if err := c.spend(2 + max(len(x)-1, 0)); err != nil { // {} and commas
			return nil, err
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, err := jsonKey(k, e)
			if err != nil {
				return nil, err
			}
			if err := c.spend(quotedLen(ks) + 1); err != nil { // "key":
				return nil, err
			}
			if out[ks], err = c.convert(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		if err := c.spend(2 + max(len(x)-1, 0)); err != nil { // [] and commas
			return nil, err
		}
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = c.convert(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		return x, c.spend(quotedLen(x))
	case nil:
		return nil, c.spend(len("null"))
	case bool:
		return x, c.spend(len("false"))
	case int:
		return x, c.spend(intLen(int64(x)))
	case int64:
		return x, c.spend(intLen(x))
	case uint64:
		return x, c.spend(len(strconv.FormatUint(x, 10)))
	case float64:
		return x, c.spend(len("-1.2345678901234567e-308"))
	default:
		// Nothing else comes out of yaml.v2 for an interface{} target
		// but scalars such as time.Time for an explicit !!timestamp:
		// small, so measuring them by encoding is cheap.
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return x, c.spend(len(b))
	}
}

// jsonKey turns a YAML map key into a JSON object key the way
// sigs.k8s.io/yaml does: numbers and booleans as YAML writes them, floats
// at 32-bit precision.
func jsonKey(k, v any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("unsupported map key of type: %T, key: %s, value: %s", k, excerptValue(k), excerptValue(v))
}

// quotedLen is at least the length of s as json.Marshal quotes it: HTML
// characters and control characters take six bytes (\u003c), an invalid
// byte becomes \ufffd.
func quotedLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t':
				n += 2
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

// intLen is the length of n in decimal.
func intLen(n int64) int {
	var buf [20]byte
	return len(strconv.AppendInt(buf[:0], n, 10))
}

// excerptValue renders a decoded value for a message, at most maxExcerpt
// bytes of it.
func excerptValue(v any) string {
	return excerpt(fmt.Sprintf("%#v", v))
}
