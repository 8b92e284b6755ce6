package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// document is one non-empty document of a file.
type document struct {
	data []byte
	line int  // 1-based line of the file where the document starts
	json bool // data is JSON, not YAML
}

// splitDocuments cuts a file into documents. A .json file, or any file whose
// first character is '{', is read as a stream of JSON objects (what
// `kubectl get -o json` and most tools write); everything else as YAML.
// A file starting with '{' that is not valid JSON falls back to YAML, whose
// flow mappings also start with '{'. The error reports a JSON syntax error
// after the documents that did parse.
func splitDocuments(path string, data []byte) ([]document, error) {
	isJSONName := strings.EqualFold(filepath.Ext(path), ".json")
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if isJSONName || bytes.HasPrefix(trimmed, []byte("{")) {
		docs, err := splitJSON(data)
		if err == nil || isJSONName || len(docs) > 0 {
			return docs, err
		}
	}
	return splitYAML(data), nil
}

func splitJSON(data []byte) ([]document, error) {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		// InputOffset is where the previous value ended; the next one
		// starts after the whitespace that follows.
		start := int(dec.InputOffset())
		for start < len(data) && strings.IndexByte(" \t\r\n", data[start]) >= 0 {
			start++
		}
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return docs, fmt.Errorf("invalid JSON at line %d: %v", lineAt(data, int(se.Offset)), se)
			}
			return docs, fmt.Errorf("invalid JSON at line %d: %w", lineAt(data, start), err)
		}
		docs = append(docs, document{data: raw, line: lineAt(data, start), json: true})
	}
}

func lineAt(data []byte, offset int) int {
	offset = min(max(offset, 0), len(data))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// splitYAML cuts at "---" lines (a separator may carry a comment or content
// after a space, as YAML allows) and at "..." document end markers.
// Documents holding only blank lines and comments are dropped here, so a
// leading "---" does not shift the document numbers.
func splitYAML(data []byte) []document {
	var (
		docs  []document
		cur   []byte
		start = 1
	)
	flush := func() {
		if !blankYAML(cur) {
			docs = append(docs, document{data: cur, line: start})
		}
		cur = nil
	}
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		body := bytes.TrimRight(line, " \t\r\n")
		switch {
		case string(body) == "...":
			flush()
			start = i + 2
		case bytes.Equal(body, []byte("---")), bytes.HasPrefix(body, []byte("--- ")), bytes.HasPrefix(body, []byte("---\t")):
			flush()
			start = i + 1
			// Blank out the marker but keep the rest at its column, so
			// the YAML parser's line and column numbers stay true.
			cur = append(cur, "   "...)
			cur = append(cur, line[3:]...)
		default:
			cur = append(cur, line...)
		}
	}
	flush()
	return docs
}

func blankYAML(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

var (
	yamlLineRE   = regexp.MustCompile(`\bline (\d+)`)
	yamlPrefixRE = regexp.MustCompile(`^(error converting YAML to JSON: )?(yaml: )?`)
)

// yamlErrorText turns the parser's message into one line whose line numbers
// count from the top of the file rather than from the top of the document.
func yamlErrorText(err error, docLine int) string {
	msg := yamlPrefixRE.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "unmarshal errors:")
	msg = yamlLineRE.ReplaceAllStringFunc(msg, func(s string) string {
		n, convErr := strconv.Atoi(s[len("line "):])
		if convErr != nil {
			return s
		}
		return fmt.Sprintf("line %d", n+docLine-1)
	})
	fields := strings.Fields(msg)
	return strings.Join(fields, " ")
}
