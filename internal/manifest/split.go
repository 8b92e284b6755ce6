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

// MaxDocuments is the most documents one file may hold (1000). A file
// with more is refused whole, without parsing any: a few Pods per file is
// the norm, and parsing a million tiny documents at every rescan would
// burn the node's CPU.
const MaxDocuments = 1000

// errTooManyDocuments is splitDocuments' error for a file over MaxDocuments.
var errTooManyDocuments = fmt.Errorf("more than %d documents in one file, the limit; nothing in the file was read (put the pods in several files)", MaxDocuments)

// splitDocuments cuts a file into documents. A .json file, or any file whose
// first character is '{', is read as a stream of JSON objects (what
// `kubectl get -o json` and most tools write); everything else as YAML.
// A file starting with '{' that is not valid JSON falls back to YAML, whose
// flow mappings also start with '{'. The error reports a JSON syntax error
// after the documents that did parse, or is errTooManyDocuments (then no
// document is returned).
func splitDocuments(path string, data []byte) ([]document, error) {
	isJSONName := strings.EqualFold(filepath.Ext(path), ".json")
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if isJSONName || bytes.HasPrefix(trimmed, []byte("{")) {
		docs, err := splitJSON(data)
		if err == nil || isJSONName || len(docs) > 0 || errors.Is(err, errTooManyDocuments) {
			return docs, err
		}
	}
	return splitYAML(data)
}

func splitJSON(data []byte) ([]document, error) {
	var (
		docs  []document
		lines lineCounter
	)
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
				return docs, fmt.Errorf("invalid JSON at line %d: %v", lines.at(data, int(se.Offset)), se)
			}
			return docs, fmt.Errorf("invalid JSON at line %d: %w", lines.at(data, start), err)
		}
		if len(docs) == MaxDocuments {
			return nil, errTooManyDocuments
		}
		docs = append(docs, document{data: raw, line: lines.at(data, start), json: true})
	}
}

// lineCounter gives the 1-based line of growing offsets in data, counting
// each byte once rather than once per document: a file of many documents
// would otherwise take time quadratic in its size.
type lineCounter struct {
	offset, line int
}

func (c *lineCounter) at(data []byte, offset int) int {
	offset = min(max(offset, 0), len(data))
	if offset < c.offset {
		c.offset, c.line = 0, 0
	}
	c.line += bytes.Count(data[c.offset:offset], []byte("\n"))
	c.offset = offset
	return c.line + 1
}

// splitYAML cuts at "---" lines (a separator may carry a comment or content
// after a space, as YAML allows) and at "..." document end markers.
// Documents holding only blank lines and comments are dropped here, so a
// leading "---" does not shift the document numbers. On the document after
// MaxDocuments it stops and returns errTooManyDocuments.
func splitYAML(data []byte) ([]document, error) {
	var (
		docs  []document
		cur   []byte
		start = 1
	)
	flush := func() error {
		if !blankYAML(cur) {
			if len(docs) == MaxDocuments {
				return errTooManyDocuments
			}
			docs = append(docs, document{data: cur, line: start})
		}
		cur = nil
		return nil
	}
	for i, rest := 0, data; len(rest) > 0; i++ {
		line := rest
		if n := bytes.IndexByte(rest, '\n'); n >= 0 {
			line = rest[:n+1]
		}
		rest = rest[len(line):]
		body := bytes.TrimRight(line, " \t\r\n")
		switch {
		case string(body) == "...":
			if err := flush(); err != nil {
				return nil, err
			}
			start = i + 2
		case bytes.Equal(body, []byte("---")), bytes.HasPrefix(body, []byte("--- ")), bytes.HasPrefix(body, []byte("---\t")):
			if err := flush(); err != nil {
				return nil, err
			}
			start = i + 1
			// Blank out the marker but keep the rest at its column, so
			// the YAML parser's line and column numbers stay true.
			cur = append(cur, "   "...)
			cur = append(cur, line[3:]...)
		default:
			cur = append(cur, line...)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
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
