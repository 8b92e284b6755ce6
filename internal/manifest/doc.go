// Package manifest owns the manifest directory: it reads the files an
// operator drops there, turns every Pod document into a validated,
// defaulted *v1.Pod with a stable UID, and reports everything it rejects as
// a Problem that names the file, the field and the reason.
//
// The flow is one way:
//
//	Ignored ──> LoadFile ──> ParseFile ──> (split, decode, validate, default)
//	Scan     = every file of the directory + duplicate resolution
//	Source   = Scan after every inotify burst and every periodic rescan,
//	           sending the full desired state only when it changed
//
// Nothing here talks to containerd or keeps pods running; the caller
// (internal/pod) compares the desired state with what runs.
package manifest
