package containerlog

import (
	"bytes"
	"errors"
	"time"
)

const (
	// maxLineSize is the longest content one record holds; longer lines are
	// split into P records, as containerd's CRI plugin does.
	maxLineSize = 16 * 1024

	tagPartial = "P"
	tagFull    = "F"
)

// appendRecord appends one CRI log record to buf.
func appendRecord(buf []byte, ts time.Time, stream, tag string, content []byte) []byte {
	buf = ts.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, ' ')
	buf = append(buf, stream...)
	buf = append(buf, ' ')
	buf = append(buf, tag...)
	buf = append(buf, ' ')
	buf = append(buf, content...)
	return append(buf, '\n')
}

// record is one parsed line of a log file. Its slices point into the line.
type record struct {
	timestamp []byte
	stream    []byte
	partial   bool
	content   []byte
}

var errMalformed = errors.New("malformed log record")

// parseRecord parses one record without its trailing newline. Tags after the
// first (the CRI format allows "P:more") are ignored.
func parseRecord(line []byte) (record, error) {
	var r record
	var ok bool
	if r.timestamp, line, ok = bytes.Cut(line, []byte{' '}); !ok {
		return r, errMalformed
	}
	if r.stream, line, ok = bytes.Cut(line, []byte{' '}); !ok {
		return r, errMalformed
	}
	tags, content, _ := bytes.Cut(line, []byte{' '})
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	switch string(tag) {
	case tagPartial:
		r.partial = true
	case tagFull:
	default:
		return r, errMalformed
	}
	r.content = content
	return r, nil
}

// time parses the record's timestamp.
func (r record) time() (time.Time, error) {
	return time.Parse(time.RFC3339Nano, string(r.timestamp))
}
