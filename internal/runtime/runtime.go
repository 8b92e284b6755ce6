// Package runtime owns the boundary to the container runtime: the small
// interface the rest of minikubelet needs from containerd, its containerd
// implementation, and the labels that let the daemon rebuild its state from
// containerd alone. It imports nothing else from internal/.
package runtime

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Labels put on every containerd object the daemon creates. With them the
// daemon can tell its containers apart from anybody else's and rebuild every
// pod's state (attempts, restart counts, last termination) after a restart.
const (
	LabelPrefix       = "io.minikubelet."
	LabelKind         = LabelPrefix + "kind" // KindSandbox or KindContainer
	LabelPodNamespace = LabelPrefix + "pod.namespace"
	LabelPodName      = LabelPrefix + "pod.name"
	LabelPodUID       = LabelPrefix + "pod.uid"
	// LabelPodGracePeriod (on every object of a pod) is the pod's
	// terminationGracePeriodSeconds, so a pod whose manifest vanished while
	// the daemon was down is still stopped with its own grace period.
	LabelPodGracePeriod = LabelPrefix + "pod.termination-grace-period"
	LabelContainerName  = LabelPrefix + "container.name"
	// LabelContainerType is "init" or "app" for KindContainer.
	LabelContainerType = LabelPrefix + "container.type"
	// LabelAttempt counts the attempts of one container (or sandbox) of a
	// pod from 0; the restart count is the attempt of the newest container.
	LabelAttempt = LabelPrefix + "attempt"
	// LabelSandboxID names the sandbox a container joined.
	LabelSandboxID = LabelPrefix + "sandbox.id"
	// LabelLogPath is the CRI log file of this attempt.
	LabelLogPath = LabelPrefix + "log.path"
	// Written by the runtime when the task starts and when its exit is
	// recorded, so that state survives the task being deleted.
	LabelStartedAt  = LabelPrefix + "started-at"
	LabelFinishedAt = LabelPrefix + "finished-at"
	LabelExitCode   = LabelPrefix + "exit-code"
	// LabelOOMKilled is set to "true" when containerd reported an OOM kill
	// for the container's cgroup.
	LabelOOMKilled = LabelPrefix + "oom-killed"
	// LabelStartError keeps the runtime's message when the process could not
	// be started at all (ContainerCannotRun).
	LabelStartError = LabelPrefix + "start-error"
)

// Kinds of container the daemon creates.
const (
	KindSandbox   = "sandbox"
	KindContainer = "container"
)

// State is the life of one container attempt as the runtime sees it.
//
//	Created ──start──> Running ──exit──> Exited
//	   │                                   ^
//	   └────────────start failed───────────┘
//
// Unknown means the runtime could not say (the task service failed).
type State int

// The container states.
const (
	StateUnknown State = iota
	StateCreated
	StateRunning
	StateExited
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	default:
		return "unknown"
	}
}

// Container is what the runtime knows about one container attempt.
type Container struct {
	ID        string
	Labels    map[string]string
	Image     string // the reference it was created from
	ImageID   string // the image's manifest digest
	CreatedAt time.Time
	State     State
	Pid       uint32
	// StartedAt, FinishedAt and ExitCode are zero until known.
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int32
	// OOMKilled reports a recorded OOM kill; StartError a failed start.
	OOMKilled  bool
	StartError string
	// TaskAlive is true while a task (running or exited, not yet deleted)
	// exists for the container.
	TaskAlive bool
}

// Attempt returns the container's attempt number from its labels.
func (c Container) Attempt() int {
	n, _ := strconv.Atoi(c.Labels[LabelAttempt])
	return n
}

// Image is a locally available image.
type Image struct {
	Ref string
	ID  string // repository@digest of Target, as the kubelet shows imageID
	// Target is the manifest (or index) Ref pointed at when the image was
	// resolved. Containers are created from it, so a name that moves
	// later (an import, a pull) changes nothing for a container whose
	// spec was built from this image's config.
	Target ocispec.Descriptor
	Size   int64
	Config ImageConfig
}

// ImageConfig is the part of an image's configuration a container spec uses.
type ImageConfig struct {
	Entrypoint, Cmd, Env []string
	WorkingDir, User     string
	StopSignal           string
}

// CreateRequest describes a container to create. The spec is complete: the
// runtime only adds the root filesystem.
type CreateRequest struct {
	ID string
	// Image is the image as GetImage or PullImage returned it: the
	// container gets that target's root filesystem.
	Image  *Image
	Spec   *specs.Spec
	Labels map[string]string
	// LogURI is where the task's stdout and stderr go (cio.LogURI); nil
	// discards them.
	LogURI *url.URL
}

// EventKind says what a task event reports.
type EventKind int

// Task events the daemon follows.
const (
	EventExit EventKind = iota + 1
	EventOOM
)

// Event is one task event from containerd.
type Event struct {
	Kind        EventKind
	ContainerID string
	ExitCode    uint32
	ExitedAt    time.Time
}

// ErrNotFound is returned (wrapped) for a container or image that does not
// exist; use errors.Is.
var ErrNotFound = errors.New("not found")

// Runtime is everything minikubelet needs from a container runtime.
type Runtime interface {
	// GetImage returns a local image (unpacked), or ErrNotFound.
	GetImage(ctx context.Context, ref string) (*Image, error)
	// PullImage fetches and unpacks an image from its registry.
	PullImage(ctx context.Context, ref string) (*Image, error)
	// ImportImage imports an OCI or Docker archive and unpacks its images.
	// A digest-form name (repo@sha256:…) whose manifest is another digest
	// is refused; o decides whether a name may move to another target.
	// A refused import changes no name.
	ImportImage(ctx context.Context, r io.Reader, o ImportOptions) ([]Image, error)
	// ListImages returns the local images.
	ListImages(ctx context.Context) ([]Image, error)
	// RemoveImage deletes a local image.
	RemoveImage(ctx context.Context, ref string) error
	// ImageUsers returns the entries of a local image's /etc/passwd and
	// /etc/group, read from img's target (not from what its name points
	// at now).
	ImageUsers(ctx context.Context, img *Image) (*ImageUsers, error)

	// CreateContainer creates a container (not its task).
	CreateContainer(ctx context.Context, req CreateRequest) error
	// StartContainer creates and starts the container's task. When the
	// process cannot start, the error is recorded on the container
	// (LabelStartError) and returned.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends signal, waits up to timeout for the task to exit,
	// then kills every process of the container. It records the exit.
	StopContainer(ctx context.Context, id string, signal syscall.Signal, timeout time.Duration) error
	// RecordExit stores an exited task's status in the container's labels
	// and deletes the task, releasing the shim's resources.
	RecordExit(ctx context.Context, id string) error
	// RemoveContainer deletes the task, the container and its snapshot.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers returns the daemon's containers whose labels include
	// all of match.
	ListContainers(ctx context.Context, match map[string]string) ([]Container, error)
	// Exec runs cmd in a running container and returns its output (capped
	// at MaxExecOutput) and exit code; past timeout the process is killed
	// and reaped and the error wraps ErrExecTimeout.
	Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error)
	// WritableLayerUsage returns the bytes a container's writable layer
	// (its snapshot's upper directory) uses on disk.
	WritableLayerUsage(ctx context.Context, id string) (int64, error)
	// SetLabels adds labels to a container.
	SetLabels(ctx context.Context, id string, labels map[string]string) error
	// Subscribe streams task exit and OOM events of the daemon's namespace
	// until ctx ends; the error channel reports a broken stream.
	Subscribe(ctx context.Context) (<-chan Event, <-chan error)
	// Healthy reports whether the runtime answers.
	Healthy(ctx context.Context) error
}
