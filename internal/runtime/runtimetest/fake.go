// Package runtimetest provides a fake runtime.Runtime that keeps containers
// in memory, records every call and lets tests inject errors and exits.
package runtimetest

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// Fake is an in-memory runtime. The zero value is not usable: use New.
type Fake struct {
	mu     sync.Mutex
	images map[string]*runtime.Image
	// targets are every image target ever added, by digest: content
	// stays after its name moves.
	targets    map[string]*runtime.Image
	versions   map[string]int
	hooks      map[string]func()
	users      map[string]*runtime.ImageUsers
	containers map[string]*runtime.Container
	reqs       map[string]runtime.CreateRequest
	calls      []string
	errs       map[string]error
	subs       []chan runtime.Event
	exec       func(id string, cmd []string, timeout time.Duration) ([]byte, int, error)
	pull       func(ctx context.Context, ref string) error
	// lists counts ListContainers calls by their match (listKey).
	lists   map[string]int
	nextPid uint32
	// layers are the writable layer usages SetLayerUsage set.
	layers map[string]int64
	// Now is the clock the fake stamps times with.
	Now func() time.Time
	// StopExitCode is the exit code StopContainer records for a running
	// container. It is 0 unless set: the fake does not model the exit
	// code a real stop gets from its signal (143 for SIGTERM, 137 for
	// SIGKILL), so tests that care set it.
	StopExitCode int32
}

var _ runtime.Runtime = (*Fake)(nil)

// New returns a fake that has the given images locally.
func New(images ...string) *Fake {
	f := &Fake{
		images:     map[string]*runtime.Image{},
		targets:    map[string]*runtime.Image{},
		versions:   map[string]int{},
		hooks:      map[string]func(){},
		users:      map[string]*runtime.ImageUsers{},
		containers: map[string]*runtime.Container{},
		reqs:       map[string]runtime.CreateRequest{},
		errs:       map[string]error{},
		nextPid:    1000,
		Now:        time.Now,
	}
	for _, ref := range images {
		f.AddImage(ref)
	}
	return f
}

// AddImage makes an image available locally. Adding a ref again moves it
// to a new target digest (as an import of another image under that name
// does); containers already resolved keep the old one.
func (f *Fake) AddImage(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.versions[ref]++
	dgst := digest.FromString(fmt.Sprintf("%s %d", ref, f.versions[ref]))
	f.images[ref] = &runtime.Image{Ref: ref, ID: ref + "@" + dgst.String(), Size: 1 << 20,
		Target: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dgst, Size: 1}}
	f.targets[dgst.String()] = f.images[ref]
}

// OnCall makes every later call of method run fn first (outside the
// fake's lock), so a test can change the fake between two steps of the
// code under test.
func (f *Fake) OnCall(method string, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[method] = fn
}

func (f *Fake) hook(method string) {
	f.mu.Lock()
	fn := f.hooks[method]
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// SetImageConfig sets the config of a local image (added with AddImage).
func (f *Fake) SetImageConfig(ref string, c runtime.ImageConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[ref].Config = c
}

// SetImageUsers sets what ImageUsers returns for an image (by ref);
// images without get empty ImageUsers, as an image with no /etc/passwd.
func (f *Fake) SetImageUsers(ref string, u *runtime.ImageUsers) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[ref] = u
}

// ImageUsers implements runtime.Runtime.
func (f *Fake) ImageUsers(_ context.Context, img *runtime.Image) (*runtime.ImageUsers, error) {
	f.hook("ImageUsers")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ImageUsers", img.Ref); err != nil {
		return nil, err
	}
	if u := f.users[img.Ref]; u != nil {
		return u, nil
	}
	return &runtime.ImageUsers{}, nil
}

// InjectError makes the next calls of method (e.g. "StartContainer") fail
// with err until cleared with a nil err.
func (f *Fake) InjectError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, method)
		return
	}
	f.errs[method] = err
}

// Calls returns the calls so far as "Method id" strings.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// CountCalls counts calls whose text starts with prefix.
func (f *Fake) CountCalls(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// Request returns the create request a container was made with.
func (f *Fake) Request(id string) (runtime.CreateRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reqs[id]
	return r, ok
}

func (f *Fake) record(method, id string) error {
	f.calls = append(f.calls, strings.TrimSpace(method+" "+id))
	return f.errs[method]
}

// Exit makes a running container exit with code and publishes the event.
func (f *Fake) Exit(id string, code int32, oom bool) {
	f.mu.Lock()
	c, ok := f.containers[id]
	if !ok || c.State != runtime.StateRunning {
		f.mu.Unlock()
		return
	}
	c.State = runtime.StateExited
	c.ExitCode = code
	c.FinishedAt = f.Now()
	subs := append([]chan runtime.Event(nil), f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		if oom {
			s <- runtime.Event{Kind: runtime.EventOOM, ContainerID: id}
		}
		s <- runtime.Event{Kind: runtime.EventExit, ContainerID: id, ExitCode: uint32(code), ExitedAt: c.FinishedAt}
	}
}

// Container returns a copy of a container's state.
func (f *Fake) Container(id string) (runtime.Container, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return runtime.Container{}, false
	}
	return copyContainer(c), true
}

func copyContainer(c *runtime.Container) runtime.Container {
	out := *c
	out.Labels = make(map[string]string, len(c.Labels))
	for k, v := range c.Labels {
		out.Labels[k] = v
	}
	return out
}

// GetImage implements runtime.Runtime.
func (f *Fake) GetImage(_ context.Context, ref string) (*runtime.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GetImage", ref); err != nil {
		return nil, err
	}
	img, ok := f.images[ref]
	if !ok {
		return nil, fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
	}
	cp := *img
	return &cp, nil
}

// OnPull makes every later PullImage run fn first (outside the fake's
// lock, with the pull's context): a pull that fn fails fails with its
// error, so fn can hold a pull until its context ends, as a stalled
// registry would.
func (f *Fake) OnPull(fn func(ctx context.Context, ref string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pull = fn
}

// PullImage implements runtime.Runtime; it fails unless an error is not
// injected and the image was registered as pullable with AddImage first.
func (f *Fake) PullImage(ctx context.Context, ref string) (*runtime.Image, error) {
	f.mu.Lock()
	err := f.record("PullImage", ref)
	fn := f.pull
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if fn != nil {
		if err := fn(ctx, ref); err != nil {
			return nil, fmt.Errorf("pull image %s: %w", ref, err)
		}
	}
	return f.GetImage(ctx, ref)
}

// ImportImage implements runtime.Runtime; archives are not parsed.
func (f *Fake) ImportImage(context.Context, io.Reader, runtime.ImportOptions) ([]runtime.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return nil, f.record("ImportImage", "")
}

// CreateContainer implements runtime.Runtime.
func (f *Fake) CreateContainer(_ context.Context, req runtime.CreateRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("CreateContainer", req.ID); err != nil {
		return err
	}
	if _, ok := f.containers[req.ID]; ok {
		return fmt.Errorf("container %s already exists", req.ID)
	}
	// By target, as containerd: the image the caller resolved, wherever
	// its name points now.
	if req.Image == nil || f.targets[req.Image.Target.Digest.String()] == nil {
		return fmt.Errorf("image %+v: %w", req.Image, runtime.ErrNotFound)
	}
	img := f.targets[req.Image.Target.Digest.String()]
	labels := map[string]string{}
	for k, v := range req.Labels {
		labels[k] = v
	}
	f.containers[req.ID] = &runtime.Container{
		ID: req.ID, Labels: labels, Image: img.Ref, ImageID: img.ID,
		CreatedAt: f.Now(), State: runtime.StateCreated,
	}
	f.reqs[req.ID] = req
	return nil
}

// StartContainer implements runtime.Runtime.
func (f *Fake) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err := f.record("StartContainer", id); err != nil {
		c.State = runtime.StateExited
		c.StartError = err.Error()
		c.ExitCode = 128
		c.StartedAt, c.FinishedAt = f.Now(), f.Now()
		return err
	}
	f.nextPid++
	c.Pid = f.nextPid
	c.State = runtime.StateRunning
	c.TaskAlive = true
	c.StartedAt = f.Now()
	return nil
}

// StopContainer implements runtime.Runtime: the container exits at once.
func (f *Fake) StopContainer(_ context.Context, id string, sig syscall.Signal, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("StopContainer", fmt.Sprintf("%s %d", id, sig)); err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if c.State == runtime.StateRunning {
		c.State = runtime.StateExited
		c.ExitCode = f.StopExitCode
		c.FinishedAt = f.Now()
	}
	c.TaskAlive = false
	return nil
}

// RecordExit implements runtime.Runtime.
func (f *Fake) RecordExit(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("RecordExit", id); err != nil {
		return err
	}
	if c, ok := f.containers[id]; ok && c.State == runtime.StateExited {
		c.TaskAlive = false
	}
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (f *Fake) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("RemoveContainer", id); err != nil {
		return err
	}
	delete(f.containers, id)
	return nil
}

// ListContainers implements runtime.Runtime, in creation order.
func (f *Fake) ListContainers(_ context.Context, match map[string]string) ([]runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lists == nil {
		f.lists = map[string]int{}
	}
	f.lists[listKey(match)]++
	if err := f.errs["ListContainers"]; err != nil {
		return nil, err
	}
	var out []runtime.Container
next:
	for _, c := range f.containers {
		for k, v := range match {
			if c.Labels[k] != v {
				continue next
			}
		}
		out = append(out, copyContainer(c))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ListCalls counts the ListContainers calls made with exactly match.
func (f *Fake) ListCalls(match map[string]string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists[listKey(match)]
}

func listKey(match map[string]string) string {
	keys := make([]string, 0, len(match))
	for k, v := range match {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// SetLayerUsage sets what WritableLayerUsage reports for a container.
func (f *Fake) SetLayerUsage(id string, bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.layers == nil {
		f.layers = map[string]int64{}
	}
	f.layers[id] = bytes
}

// WritableLayerUsage implements runtime.Runtime: what SetLayerUsage set,
// else 0.
func (f *Fake) WritableLayerUsage(_ context.Context, id string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("WritableLayerUsage", id); err != nil {
		return 0, err
	}
	if _, ok := f.containers[id]; !ok {
		return 0, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return f.layers[id], nil
}

// SetLabels implements runtime.Runtime.
func (f *Fake) SetLabels(_ context.Context, id string, labels map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	for k, v := range labels {
		c.Labels[k] = v
		if k == runtime.LabelOOMKilled {
			c.OOMKilled = v == "true"
		}
	}
	return nil
}

// Subscribe implements runtime.Runtime.
func (f *Fake) Subscribe(ctx context.Context) (<-chan runtime.Event, <-chan error) {
	ch := make(chan runtime.Event, 64)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	return ch, make(chan error)
}

// Healthy implements runtime.Runtime.
func (f *Fake) Healthy(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs["Healthy"]
}

// ExecFunc, when set, answers Exec; by default Exec succeeds with no output.
func (f *Fake) SetExec(fn func(id string, cmd []string, timeout time.Duration) ([]byte, int, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exec = fn
}

// Exec implements runtime.Runtime.
func (f *Fake) Exec(_ context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error) {
	f.mu.Lock()
	if err := f.record("Exec", id); err != nil {
		f.mu.Unlock()
		return nil, -1, err
	}
	c, ok := f.containers[id]
	fn := f.exec
	f.mu.Unlock()
	if !ok || c.State != runtime.StateRunning {
		return nil, -1, fmt.Errorf("container %s is not running: %w", id, runtime.ErrNotFound)
	}
	if fn != nil {
		return fn(id, cmd, timeout)
	}
	return nil, 0, nil
}

// ListImages implements runtime.Runtime.
func (f *Fake) ListImages(context.Context) ([]runtime.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Image
	for _, i := range f.images {
		out = append(out, *i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Ref < out[b].Ref })
	return out, f.record("ListImages", "")
}

// RemoveImage implements runtime.Runtime.
func (f *Fake) RemoveImage(_ context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("RemoveImage", ref); err != nil {
		return err
	}
	if _, ok := f.images[ref]; !ok {
		return fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
	}
	delete(f.images, ref)
	return nil
}
