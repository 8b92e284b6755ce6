package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"unicode/utf8"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// MaxFileSize is the largest manifest file read, in bytes (10 MiB). A Pod
// manifest is a few KiB; anything this big is a mistake, and reading it
// whole on every rescan would be one too.
const MaxFileSize = 10 << 20

// LoadFile reads one manifest file and parses it with ParseFile. A file that
// cannot be read, is not a regular file or is larger than MaxFileSize gives
// one whole-file Problem.
func LoadFile(path, nodeName string) ([]Pod, []Problem) {
	data, err := readManifest(path)
	if err != nil {
		return nil, []Problem{{File: path, Reason: err.Error()}}
	}
	return ParseFile(path, data, nodeName)
}

func readManifest(path string) ([]byte, error) {
	f, st, err := openManifest(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.IsDir() {
		return nil, errors.New("is a directory (the manifest directory is not read recursively)")
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	if st.Size() > MaxFileSize {
		return nil, tooBig(st.Size())
	}
	// The limit also guards a file that grows between Stat and Read.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %w", pathErrorCause(err))
	}
	if len(data) > MaxFileSize {
		return nil, tooBig(int64(len(data)))
	}
	return data, nil
}

// openManifest opens a manifest file for reading and stats it. O_NONBLOCK
// so that a FIFO named pod.yaml cannot hang the daemon in open(2); the
// caller refuses anything but a regular file.
func openManifest(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open file: %w", pathErrorCause(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot stat file: %w", pathErrorCause(err))
	}
	return f, st, nil
}

func tooBig(size int64) error {
	return fmt.Errorf("file is %d bytes, over the %d MiB limit for manifests", size, MaxFileSize>>20)
}

// pathErrorCause drops the "open /path:" prefix of an *fs.PathError: the
// Problem already names the file.
func pathErrorCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseFile parses every document of one file (YAML documents separated by
// "---", or one or more JSON objects), validates and defaults each.
//
// Good documents are returned even when others in the same file are bad:
// one typo must not take down its neighbours. Documents that are empty
// (only "---", whitespace or comments) are skipped silently. Problems carry
// path as given; Pod.File and the UID use the absolute path.
func ParseFile(path string, data []byte, nodeName string) ([]Pod, []Problem) {
	if len(data) > MaxFileSize {
		return nil, []Problem{{File: path, Reason: tooBig(int64(len(data))).Error()}}
	}
	abs := path
	if a, err := filepath.Abs(path); err == nil {
		abs = a
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		return nil, []Problem{{File: path, Reason: "not a text file (it contains binary data or invalid UTF-8); a manifest must be YAML or JSON"}}
	}

	docs, splitErr := splitDocuments(path, data)
	var (
		pods     []Pod
		problems []Problem
	)
	for i, d := range docs {
		pod, canonical, issues := decodePod(d)
		if pod == nil && len(issues) == 0 {
			continue // an empty document, e.g. "null"
		}
		if len(issues) == 0 {
			issues = validatePod(pod)
		}
		if len(issues) > 0 {
			for _, is := range issues {
				problems = append(problems, is.problem(path, i))
			}
			continue
		}
		uid := DeriveUID(abs, canonical, nodeName)
		Default(pod, nodeName, uid)
		pods = append(pods, Pod{Pod: pod, File: abs, Doc: i})
	}
	if splitErr != nil {
		problems = append(problems, Problem{File: path, Doc: len(docs), Reason: splitErr.Error()})
	}
	return pods, problems
}

// decodePod turns one document into a *v1.Pod and the canonical JSON of the
// document (sorted keys, no comments or layout), which is what the UID is
// derived from. It returns a nil pod and no issues for an empty document.
func decodePod(d document) (*v1.Pod, []byte, []issue) {
	raw := d.data
	if !d.json {
		j, err := yaml.YAMLToJSONStrict(d.data)
		if err != nil {
			return nil, nil, []issue{{"", "invalid YAML: " + yamlErrorText(err, d.line)}}
		}
		raw = j
	} else if dup := findDuplicateKey(raw); dup != "" {
		// YAMLToJSONStrict rejects duplicate keys; encoding/json silently
		// keeps the last one, so JSON documents need their own check.
		return nil, nil, []issue{{dup, "duplicate key (the field is given twice)"}}
	}

	var obj any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exact for the schema check and the hash
	if err := dec.Decode(&obj); err != nil {
		return nil, nil, []issue{{"", "invalid document: " + err.Error()}}
	}
	if obj == nil {
		return nil, nil, nil
	}
	m, ok := obj.(map[string]any)
	if !ok {
		return nil, nil, []issue{{"", "a manifest document must be a Pod object, got " + describeJSON(obj)}}
	}
	if issues := checkTypeMeta(m); len(issues) > 0 {
		// Do not report the unknown fields of a Service or a Deployment:
		// the only useful thing to say is that it is not a Pod.
		return nil, nil, issues
	}
	if issues := checkSchema(m, reflect.TypeFor[v1.Pod](), nil); len(issues) > 0 {
		return nil, nil, issues
	}

	pod := &v1.Pod{}
	dec = json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(pod); err != nil {
		// checkSchema should have caught everything; this is the backstop.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, nil, []issue{{te.Field, fmt.Sprintf("must be %s, got %s", te.Type, te.Value)}}
		}
		return nil, nil, []issue{{"", "invalid Pod: " + err.Error()}}
	}
	canonical, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, []issue{{"", "cannot encode document: " + err.Error()}}
	}
	return pod, canonical, nil
}

// checkTypeMeta insists on apiVersion "v1" and kind "Pod" before anything
// else is looked at.
func checkTypeMeta(m map[string]any) []issue {
	var out []issue
	switch kind, ok := m["kind"].(string); {
	case !ok && m["kind"] == nil:
		out = append(out, issue{"kind", `missing; must be "Pod"`})
	case !ok:
		out = append(out, issue{"kind", `must be "Pod", got ` + describeJSON(m["kind"])})
	case kind == "List" || kind == "PodList":
		out = append(out, issue{"kind", fmt.Sprintf(`must be "Pod", got %q (put each Pod in its own document, separated by "---")`, kind)})
	case kind != "Pod":
		out = append(out, issue{"kind", fmt.Sprintf(`must be "Pod", got %q (only Pods can run without an API server)`, kind)})
	}
	switch av, ok := m["apiVersion"].(string); {
	case !ok && m["apiVersion"] == nil:
		out = append(out, issue{"apiVersion", `missing; must be "v1"`})
	case !ok:
		out = append(out, issue{"apiVersion", `must be "v1", got ` + describeJSON(m["apiVersion"])})
	case av != "v1":
		out = append(out, issue{"apiVersion", fmt.Sprintf(`must be "v1", got %q`, av)})
	}
	return out
}

// findDuplicateKey returns the path of the first object key that appears
// twice in a JSON value, or "" if there is none (or the JSON is invalid,
// which the decoder reports better).
func findDuplicateKey(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dup, _ := dupWalk(dec, nil)
	return dup
}

func dupWalk(dec *json.Decoder, path *field.Path) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", err
			}
			k, _ := kt.(string)
			if seen[k] {
				return path.Child(k).String(), nil
			}
			seen[k] = true
			if dup, err := dupWalk(dec, path.Child(k)); dup != "" || err != nil {
				return dup, err
			}
		}
		_, err = dec.Token() // '}'
		return "", err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if dup, err := dupWalk(dec, path.Index(i)); dup != "" || err != nil {
				return dup, err
			}
		}
		_, err = dec.Token() // ']'
		return "", err
	}
	return "", nil
}
