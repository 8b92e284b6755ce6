package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/minikubelet/minikubelet/internal/volume"
)

// ownerFile, under the state dir, records the address of the containerd
// that holds this node's pods. A daemon that starts while that containerd
// is down waits for it instead of starting an embedded one: a second
// containerd would run every pod a second time (two writers on each
// hostPath, two sets of hostPort rules), and the first copies would never
// be reaped.
const ownerFile = "containerd-owner"

// containerdFacts is what the daemon knows when it picks a containerd.
type containerdFacts struct {
	// configured is --containerd-address; embeddedAddr the socket of the
	// embedded containerd under the state dir.
	configured, embeddedAddr string
	// answers: something accepts connections at configured.
	answers bool
	// socketExists: a file exists at configured (a containerd that is
	// starting or restarting has one that does not answer yet).
	socketExists bool
	// mayEmbed: --embedded-containerd is on and a containerd binary is
	// on PATH.
	mayEmbed bool
	// owner is the recorded address (ownerFile), "" when none.
	owner string
	// embeddedUsed: the embedded containerd's root exists; hadPods: the
	// state dir holds pod directories. Both stand in for the record on a
	// state dir written before it existed.
	embeddedUsed, hadPods bool
}

// containerdPlan is what to do about containerd, decided by planContainerd.
type containerdPlan struct {
	// embedded: start (or reuse) the embedded containerd.
	embedded bool
	// wait, when not empty, says why to wait and look again (a 503 reason).
	wait string
	// warn, when not empty, is worth a warning in the log.
	warn string
}

// planContainerd decides which containerd to use. It is pure so that every
// case is a row of a table test. The embedded containerd starts only when
// it is clearly wanted: its state holds this node's pods, or nothing at
// all is at the configured address of a node that never ran pods
// elsewhere. A socket that exists but does not answer, or a recorded
// containerd that is down, means waiting.
func planContainerd(f containerdFacts) containerdPlan {
	owner := f.owner
	if owner == "" {
		switch {
		case f.embeddedUsed:
			owner = f.embeddedAddr
		case f.hadPods:
			owner = f.configured
		}
	}
	switch {
	case owner == f.embeddedAddr && f.mayEmbed:
		p := containerdPlan{embedded: true}
		if f.answers {
			p.warn = fmt.Sprintf("a containerd answers at %s, but this node's pods run in the embedded containerd; keeping that one (remove %s with no pods running to switch)", f.configured, ownerFile)
		}
		return p
	case f.answers:
		p := containerdPlan{}
		if owner == f.embeddedAddr {
			p.warn = "this node's pods ran in the embedded containerd, which is disabled now: they are not managed by this daemon"
		} else if owner != "" && owner != f.configured {
			p.warn = fmt.Sprintf("this node's pods ran in the containerd at %s, and --containerd-address is %s now: they are not managed by this daemon", owner, f.configured)
		}
		return p
	case owner != "":
		return containerdPlan{wait: fmt.Sprintf("containerd at %s does not answer; this node's pods run there (see %s in the state dir), so no embedded containerd is started in its place", f.configured, ownerFile)}
	case f.socketExists:
		return containerdPlan{wait: fmt.Sprintf("a socket exists at containerd address %s but nothing answers (containerd starting or restarting?); waiting for it rather than starting a second containerd", f.configured)}
	case f.mayEmbed:
		return containerdPlan{embedded: true}
	}
	why := fmt.Sprintf("nothing answers at containerd address %s", f.configured)
	if !f.mayEmbed {
		why += " and no embedded containerd may be started (--embedded-containerd is off or no containerd binary is on PATH)"
	}
	return containerdPlan{wait: why}
}

// readOwner returns the recorded containerd address, "" when none.
func readOwner(stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, ownerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ownerFile, err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// writeOwner records address as the containerd holding this node's pods.
func writeOwner(stateDir, address string) error {
	if got, err := readOwner(stateDir); err == nil && got == address {
		return nil
	}
	if err := volume.WriteFileAtomic(filepath.Join(stateDir, ownerFile), []byte(address+"\n"), 0o600, nil); err != nil {
		return fmt.Errorf("record containerd address: %w", err)
	}
	return nil
}

// exists reports whether anything is at path (not following a last link).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// hasEntries reports whether dir holds anything.
func hasEntries(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) > 0
}
