// Package leftovers collects what a killed daemon (kill -9, a crash, a
// power cut) left on the node that no known pod owns: network namespace
// pins, CNI attachments (IPAM leases, portmap rules), pod directories with
// their mounts, pod cgroups and termination-message files. Deciding what
// is a leftover (Decide) is apart from finding and reclaiming it (the
// Collector's injected functions), so the decision is tested without root.
package leftovers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Kind names what a leftover is.
type Kind string

// Kinds of leftover.
const (
	// Sandbox is a sandbox's network: its namespace pin and whatever
	// libcni's cache or the network's own record holds for it.
	Sandbox Kind = "sandbox network"
	// PodDir is <state-dir>/pods/<uid>, with every mount under it.
	PodDir Kind = "pod directory"
	// PodCgroup is a pod's cgroup in the daemon's layout.
	PodCgroup Kind = "pod cgroup"
	// TerminationFile is a termination-message file of a container that
	// does not exist, in the directory of a pod that does.
	TerminationFile Kind = "termination-message file"
)

// Found is what lies on the node, listed before the owners are.
type Found struct {
	// Sandboxes are the sandbox IDs with a namespace pin or a CNI
	// attachment.
	Sandboxes []string
	// PodDirs and PodCgroups are pod UIDs.
	PodDirs, PodCgroups []string
	// TerminationFiles are the termination-message files of the pods.
	TerminationFiles []File
}

// File is a termination-message file: named after its container.
type File struct {
	PodUID, ContainerID, Path string
	ModTime                   time.Time
}

// Owners is what may own something on the node: every container of the
// daemon's namespace (sandboxes included) and every pod it knows of.
type Owners struct {
	// Containers are container IDs.
	Containers map[string]bool
	// Pods are pod UIDs: those on a container's label, and those with a
	// worker (live or being killed).
	Pods map[string]bool
}

// Leftover is one thing to reclaim.
type Leftover struct {
	Kind Kind
	// ID is the sandbox ID, the pod UID, or the file's path.
	ID string
	// PodUID is the pod of a termination-message file.
	PodUID string
	Reason string
}

// MinFileAge is how old a termination-message file without a container
// must be to be a leftover: a worker makes the file just before it
// creates the container, so a younger one may be a start under way.
const MinFileAge = 2 * time.Minute

// Decide returns what of found no owner owns. Found must have been listed
// before owners: every sandbox's container is created before its pin and
// ADD, and every pod's worker before its directory and cgroup, so a
// resource found without its owner listed after it has none (or its
// owner is removing it, and reclaiming it again is harmless).
func Decide(found Found, owners Owners, now time.Time) []Leftover {
	var out []Leftover
	for _, id := range uniq(found.Sandboxes) {
		if !owners.Containers[id] {
			out = append(out, Leftover{Kind: Sandbox, ID: id, Reason: "no sandbox container with this ID"})
		}
	}
	// Cgroups before directories: the daemon only looks at the cgroups of
	// pods that have a directory in its own state dir (other daemons on the
	// machine have theirs), so a directory must not go while its cgroup
	// is left.
	for _, uid := range uniq(found.PodCgroups) {
		if !owners.Pods[uid] {
			out = append(out, Leftover{Kind: PodCgroup, ID: uid, Reason: "no container and no worker of this pod"})
		}
	}
	for _, uid := range uniq(found.PodDirs) {
		if !owners.Pods[uid] {
			out = append(out, Leftover{Kind: PodDir, ID: uid, Reason: "no container and no worker of this pod"})
		}
	}
	for _, f := range found.TerminationFiles {
		// A pod that is not owned loses its whole directory.
		if owners.Pods[f.PodUID] && !owners.Containers[f.ContainerID] && now.Sub(f.ModTime) >= MinFileAge {
			out = append(out, Leftover{Kind: TerminationFile, ID: f.Path, PodUID: f.PodUID,
				Reason: fmt.Sprintf("no container %s and older than %s", f.ContainerID, MinFileAge)})
		}
	}
	return out
}

func uniq(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if v != "" && (i == 0 || v != s[i-1]) {
			out = append(out, v)
		}
	}
	return out
}

// Collector finds and reclaims leftovers. Every function must be set,
// except TerminationFiles.
type Collector struct {
	// Sandboxes lists sandbox IDs with a namespace pin or a CNI
	// attachment.
	Sandboxes func(ctx context.Context) ([]string, error)
	// PodDirs and PodCgroups list pod UIDs.
	PodDirs    func() ([]string, error)
	PodCgroups func() ([]string, error)
	// TerminationFiles lists a pod's termination-message files.
	TerminationFiles func(uid string) ([]File, error)
	// Owners lists the owners; it is called after everything was found.
	Owners func(ctx context.Context) (Owners, error)
	// StillOwned says whether a pod has got an owner since Owners was
	// called (a manifest added back during the collection), checked just
	// before its directory or cgroup is removed.
	StillOwned func(uid string) bool

	ReleaseSandbox  func(ctx context.Context, id string) error
	RemovePodDir    func(uid string) error
	RemovePodCgroup func(uid string) error
	RemoveFile      func(path string) error

	Clock  clock.WithTicker
	Logger *zap.Logger
}

// StepTimeout bounds each reclaiming step (a CNI DEL can hang on the
// xtables lock).
const StepTimeout = 30 * time.Second

// Collect finds the leftovers, reclaims each one, and logs each one it
// reclaimed with what it was and why. A listing that fails stops the
// collection (nothing is known to be a leftover then); a reclaim that
// fails is logged and tried again at the next collection. It returns the
// leftovers it found and every error.
func (c *Collector) Collect(ctx context.Context) ([]Leftover, error) {
	found, err := c.find(ctx)
	if err != nil {
		return nil, err
	}
	owners, err := c.Owners(ctx)
	if err != nil {
		return nil, fmt.Errorf("list owners of leftovers: %w", err)
	}
	left := Decide(found, owners, c.Clock.Now())
	var errs []error
	keepDir := map[string]bool{} // pods whose cgroup could not go
	for _, l := range left {
		if l.Kind == PodDir && keepDir[l.ID] {
			continue
		}
		log := c.Logger.With(zap.String("kind", string(l.Kind)), zap.String("id", l.ID), zap.String("reason", l.Reason))
		if l.PodUID != "" {
			log = log.With(zap.String("uid", l.PodUID))
		}
		if err := c.reclaim(ctx, l); err != nil {
			log.Warn("reclaim leftover; retrying at the next collection", zap.Error(err))
			errs = append(errs, fmt.Errorf("%s %s: %w", l.Kind, l.ID, err))
			if l.Kind == PodCgroup {
				keepDir[l.ID] = true
			}
			continue
		}
		log.Info("reclaimed leftover")
	}
	return left, errors.Join(errs...)
}

// errOwned means a pod got an owner during the collection.
var errOwned = errors.New("the pod is known again; left to it")

func (c *Collector) reclaim(ctx context.Context, l Leftover) error {
	switch l.Kind {
	case Sandbox:
		ctx, cancel := context.WithTimeout(ctx, StepTimeout)
		defer cancel()
		return c.ReleaseSandbox(ctx, l.ID)
	case PodDir:
		if c.StillOwned(l.ID) {
			return errOwned
		}
		return c.RemovePodDir(l.ID)
	case PodCgroup:
		if c.StillOwned(l.ID) {
			return errOwned
		}
		return c.RemovePodCgroup(l.ID)
	case TerminationFile:
		return c.RemoveFile(l.ID)
	}
	return fmt.Errorf("unknown kind %q", l.Kind)
}

func (c *Collector) find(ctx context.Context) (Found, error) {
	var f Found
	var err error
	if f.Sandboxes, err = c.Sandboxes(ctx); err != nil {
		return f, fmt.Errorf("list sandbox networks: %w", err)
	}
	if f.PodDirs, err = c.PodDirs(); err != nil {
		return f, fmt.Errorf("list pod directories: %w", err)
	}
	if f.PodCgroups, err = c.PodCgroups(); err != nil {
		return f, fmt.Errorf("list pod cgroups: %w", err)
	}
	if c.TerminationFiles != nil {
		for _, uid := range f.PodDirs {
			files, err := c.TerminationFiles(uid)
			if err != nil {
				return f, fmt.Errorf("list termination-message files of pod %s: %w", uid, err)
			}
			f.TerminationFiles = append(f.TerminationFiles, files...)
		}
	}
	return f, nil
}

// Run collects once start is closed (the first manifest sync: from then
// on every wanted pod has a worker), then every period, each collection
// bounded by timeout, until ctx ends.
func (c *Collector) Run(ctx context.Context, start <-chan struct{}, period, timeout time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-start:
	}
	t := c.Clock.NewTicker(period)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		if _, err := c.Collect(cctx); err != nil {
			c.Logger.Warn("collect leftovers", zap.Error(err))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
