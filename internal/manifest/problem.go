package manifest

import (
	"fmt"

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
	return Problem{File: file, Doc: doc, Field: i.field, Reason: i.reason}
}
