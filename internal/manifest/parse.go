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
	"unicode/utf8"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxFileSize is the largest manifest file read, in bytes (10 MiB). A Pod
// manifest is a few KiB; anything this big is a mistake, and reading it
// whole on every rescan would be one too.
const MaxFileSize = 10 << 20

// MaxDocumentSize is the largest document parsed, in bytes (512 KiB). A
// Pod manifest is a few KiB; this leaves room for long embedded scripts.
// The YAML parser builds a tree of the whole document first, which is
// about 130 times the document's size when it is dense (`[0,0,0,...]`):
// bounding each document, not only the file, bounds that to some 64 MiB.
const MaxDocumentSize = 512 << 10

// LoadFile reads one manifest file and parses it with ParseFile. A file that
// cannot be read, is not a regular file (after symlinks) or is larger than
// MaxFileSize gives one whole-file Problem; a file that is not a regular
// file is never opened.
func LoadFile(path, nodeName string) ([]Pod, []Problem) {
	return loadFile(path, nodeName, nil)
}

// loadFile is LoadFile, through cache when it is not nil.
func loadFile(path, nodeName string, cache *parseCache) ([]Pod, []Problem) {
	openedAt := cache.time()
	f, st, err := openManifest(path)
	if err != nil {
		return nil, []Problem{{File: path, Reason: err.Error()}}
	}
	defer f.Close()
	if pods, problems, ok := cache.get(path, st); ok {
		return pods, problems
	}
	data, err := readManifest(f, st)
	if err != nil {
		return nil, []Problem{{File: path, Reason: err.Error()}}
	}
	pods, problems := ParseFile(path, data, nodeName)
	cache.put(path, st, openedAt, pods, problems)
	return pods, problems
}

func readManifest(f *os.File, st os.FileInfo) ([]byte, error) {
	if st.Size() > MaxFileSize {
		return nil, tooBig(st.Size())
	}
	// Sized from the stat, so a big file is read into one buffer rather
	// than through io.ReadAll's doublings. The limit also guards a file
	// that grows between Stat and Read.
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, fmt.Errorf("cannot read file: %w", pathErrorCause(err))
	}
	data := buf.Bytes()
	if len(data) > MaxFileSize {
		return nil, tooBig(int64(len(data)))
	}
	return data, nil
}

// openManifest opens a manifest file for reading and stats it, but only
// if it is a regular file once symlinks are followed. Anything else is
// refused before it is opened: opening a device node runs its driver
// (opening /dev/watchdog arms the watchdog, which reboots the node unless
// it is fed), and opening a FIFO blocks until a writer comes.
//
// The type is read from an O_PATH descriptor, which opens the name but not
// the file; the regular file is then opened through /proc/self/fd, which
// is that same inode even if the name was re-pointed in between.
// O_NONBLOCK so that open(2) fails rather than waits when another process
// holds a lease on the file.
func openManifest(path string) (*os.File, os.FileInfo, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open file: %w", err)
	}
	pf := os.NewFile(uintptr(fd), path)
	defer pf.Close()
	st, err := pf.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot stat file: %w", pathErrorCause(err))
	}
	if st.IsDir() {
		return nil, nil, errors.New("is a directory (the manifest directory is not read recursively)")
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file (%s); it was not opened", fileType(st.Mode()))
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open file (through /proc/self/fd): %w", pathErrorCause(err))
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot stat file: %w", pathErrorCause(err))
	}
	return f, st, nil
}

// fileType names the type of a file that is not a regular one.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
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
	if errors.Is(splitErr, errTooManyDocuments) {
		return nil, []Problem{{File: path, Reason: splitErr.Error()}}
	}
	var (
		pods     []Pod
		problems = fileProblems{file: path}
		budget   = int64(MaxExpandedSize)
	)
	for i, d := range docs {
		if len(d.data) > MaxDocumentSize {
			problems.add(Problem{File: path, Doc: i, Reason: fmt.Sprintf(
				"document is %d bytes, over the %d KiB limit for one document",
				len(d.data), MaxDocumentSize>>10)})
			continue
		}
		pod, canonical, issues := decodePod(d, &budget)
		if budget < 0 {
			unread := "this document was not read"
			if rest := len(docs) - i - 1; rest > 0 {
				unread = fmt.Sprintf("this document and the %d after it were not read", rest)
			}
			problems.add(Problem{File: path, Doc: i, Reason: fmt.Sprintf(
				"the file's documents expand to more than %d MiB of JSON, the limit for one file (YAML aliases count at every use); %s",
				MaxExpandedSize>>20, unread)})
			break
		}
		if pod == nil && len(issues) == 0 {
			continue // an empty document, e.g. "null"
		}
		if len(issues) == 0 {
			issues = validatePod(pod)
		}
		if len(issues) > 0 {
			for _, is := range issues {
				problems.add(is.problem(path, i))
			}
			continue
		}
		uid := DeriveUID(abs, canonical, nodeName)
		Default(pod, nodeName, uid)
		pods = append(pods, Pod{Pod: pod, File: abs, Doc: i})
	}
	if splitErr != nil && budget >= 0 {
		problems.add(Problem{File: path, Doc: len(docs), Reason: splitErr.Error()})
	}
	return pods, problems.problems()
}

// decodePod turns one document into a *v1.Pod and the canonical JSON of the
// document (sorted keys, no comments or layout), which is what the UID is
// derived from. It returns a nil pod and no issues for an empty document.
// A YAML document spends its JSON size from *budget (see yamlToJSON); when
// that is used up, *budget is negative and the result is to be ignored.
func decodePod(d document, budget *int64) (*v1.Pod, []byte, []issue) {
	raw := d.data
	if !d.json {
		j, err := yamlToJSON(d.data, budget)
		if errors.Is(err, errExpansion) {
			return nil, nil, nil
		}
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
		return nil, nil, []issue{{"", "a manifest document must be a Pod object, got " + jsonKind(obj)}}
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

// jsonKind names the type of a decoded JSON value without quoting it: a
// document that is not an object may be any file's content (a symlink to a
// token), and the message becomes an event.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return describeJSON(v)
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
