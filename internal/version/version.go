// Package version holds the build's version, set by the Makefile with
// -ldflags "-X github.com/minikubelet/minikubelet/internal/version.Version=...".
package version

import "strings"

// Version is the release or git description of this build.
var Version = "dev"

// KubeletVersion is the Kubernetes version whose kubelet semantics this
// build follows (and whose k8s.io/api it is built with).
const KubeletVersion = "v1.37"

// ImageTag is Version made safe for an image tag.
func ImageTag() string {
	t := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '-'
	}, Version)
	if t == "" {
		return "dev"
	}
	return t
}
