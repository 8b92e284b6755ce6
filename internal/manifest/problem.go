package manifest

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	v1 "k8s.io/api/core/v1"
)

// Pod is one validated, defaulted Pod document from the manifest directory.
type Pod struct {
	// Pod has metadata.uid set (see DeriveUID), the namespace defaulted to
	// "default", spec.nodeName set to the node name and every default of
	// Default applied. Its status is empty: status belongs to the daemon.
	Pod *v1.Pod
	// File is the absolute path of the file the document came from.
	File string
	// Doc is the 0-based index of the document within the file, counting
	// only documents that are not empty (a leading "---" does not count).
	Doc int
}

// Key returns the pod's identity, "namespace/name".
func (p Pod) Key() string {
	return p.Pod.Namespace + "/" + p.Pod.Name
}

// Problem is one reason a document, or a whole file, was rejected.
type Problem struct {
	// File is the path as the caller gave it (Scan gives dir/name).
	File string
	// Doc is the 0-based document index within the file, as in Pod.Doc.
	Doc int
	// Field is a JSON path such as "spec.containers[1].name", or empty
	// when the problem is about the whole document or file.
	Field string
	// Reason says what is wrong, in words meant for the operator.
	Reason string
}

// Error renders "file: field: why", or "file: why" when Field is empty. For
// documents after the first the document number (1-based, as people count)
// follows the file: "file (document 2): field: why".
func (p Problem) Error() string {
	where := p.File
	if p.Doc > 0 {
		where = fmt.Sprintf("%s (document %d)", p.File, p.Doc+1)
	}
	if p.Field == "" {
		return where + ": " + p.Reason
	}
	return where + ": " + p.Field + ": " + p.Reason
}

// issue is a Problem before it knows its file and document: validation and
// decoding work on one document and do not care where it came from.
type issue struct {
	field  string
	reason string
}

func (i issue) problem(file string, doc int) Problem {
	return Problem{File: file, Doc: doc, Field: shorten(i.field, maxFieldLen), Reason: boundReason(i.reason)}
}

// Bounds on what a Problem quotes of a document. A Problem becomes an
// event that every socket user can read, so it must not carry a file's
// content (a symlink to a secret is still a regular file), and a megabyte
// key or value must not make a megabyte message.
const (
	// maxExcerpt is the most of one value a message quotes, in bytes.
	maxExcerpt = 64
	// maxFieldLen bounds Problem.Field, which holds the document's keys.
	maxFieldLen = 256
	// maxReasonLen bounds Problem.Reason.
	maxReasonLen = 512
)

// excerpt returns s cut to maxExcerpt bytes, marked with "…" when cut.
func excerpt(s string) string {
	return shorten(s, maxExcerpt)
}

// shorten cuts s to at most n bytes at a UTF-8 boundary and marks the cut
// with "…".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quotedRE matches a Go-quoted string, as %q writes values into reasons.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// boundReason cuts every quoted value in reason to maxExcerpt bytes, and
// the reason to maxReasonLen: validation quotes values with %q, and the
// decoders quote keys.
func boundReason(reason string) string {
	if len(reason) > maxExcerpt+2 {
		reason = quotedRE.ReplaceAllStringFunc(reason, func(q string) string {
			if len(q) <= maxExcerpt+2 {
				return q
			}
			return `"` + excerpt(q[1:len(q)-1]) + `"`
		})
	}
	return shorten(reason, maxReasonLen)
}

// MaxProblemsPerFile is the most Problems reported for one file; a last
// one says how many more there were.
const MaxProblemsPerFile = 20

// fileProblems collects a file's Problems up to MaxProblemsPerFile and
// counts the rest.
type fileProblems struct {
	file string
	list []Problem
	more int
}

func (f *fileProblems) add(p Problem) {
	if len(f.list) < MaxProblemsPerFile {
		f.list = append(f.list, p)
		return
	}
	f.more++
}

// problems returns what was collected, with the summary line when some
// were left out.
func (f *fileProblems) problems() []Problem {
	if f.more == 0 {
		return f.list
	}
	return append(f.list, Problem{File: f.file, Reason: fmt.Sprintf("... and %d more problems in this file", f.more)})
}

// MaxSummaryLen bounds a FileSummary's Message, in bytes (1 KiB, what an
// event message may hold).
const MaxSummaryLen = 1024

// FileSummary is every Problem of one file, for one event.
type FileSummary struct {
	// File is Problem.File.
	File string
	// Problems are the file's, in order.
	Problems []Problem
	// Message is the Problem's Error text when there is one, else
	// "file: N problems: " and each without the file, "; " between them;
	// at most MaxSummaryLen bytes.
	Message string
}

// Summarize groups problems by file, in the order the files first appear,
// so that a broken file makes one event however many problems it has: a
// flood of events would push the pods' own out of the event ring.
func Summarize(problems []Problem) []FileSummary {
	var (
		out []FileSummary
		at  = map[string]int{}
	)
	for _, p := range problems {
		i, ok := at[p.File]
		if !ok {
			i = len(out)
			at[p.File] = i
			out = append(out, FileSummary{File: p.File})
		}
		out[i].Problems = append(out[i].Problems, p)
	}
	for i := range out {
		out[i].Message = shorten(summaryText(out[i]), MaxSummaryLen)
	}
	return out
}

func summaryText(s FileSummary) string {
	if len(s.Problems) == 1 {
		return s.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems: ", s.File, len(s.Problems))
	for i, p := range s.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if b.Len() > MaxSummaryLen {
			break // the rest would be cut anyway
		}
		// "file: why" or "file (document 2): why" without the file.
		b.WriteString(strings.TrimLeft(strings.TrimPrefix(p.Error(), p.File), ": "))
	}
	return b.String()
}
