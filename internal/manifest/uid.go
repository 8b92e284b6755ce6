package manifest

import (
	"crypto/sha256"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
)

// DeriveUID returns the UID of the pod described by doc (the canonical JSON
// of one document) in the file at absPath on node nodeName.
//
// It is a pure function of its inputs so that an unchanged manifest keeps
// its UID across rescans and daemon restarts (the daemon adopts running
// pods by UID) while any change to the document, a move to another file or
// another node yields a new UID, that is a new pod, as in the kubelet.
// The document is hashed in canonical form (keys sorted, comments and
// layout gone), so reformatting a file or editing a comment does not
// restart its pods.
//
// The result is shaped like an RFC 9562 version 8 ("custom") UUID so that
// tools that parse UIDs accept it.
func DeriveUID(absPath string, doc []byte, nodeName string) types.UID {
	h := sha256.New()
	// Length-prefix each part so that no two different inputs can be
	// concatenated into the same byte stream.
	for _, part := range [][]byte{[]byte(absPath), []byte(nodeName), doc} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
