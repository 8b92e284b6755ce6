package runtime

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"strconv"
	"syscall"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/runc/options"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"
	"github.com/distribution/reference"
	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// labelLogURI keeps the task's log URI on the container so that a task can
// be created for it later (StartContainer takes only the ID).
const labelLogURI = LabelPrefix + "log.uri"

// runcRuntime is the shim every container runs under. Containers of one pod
// share a shim through the io.containerd.runc.v2.group annotation.
const runcRuntime = "io.containerd.runc.v2"

// Options configure the containerd runtime.
type Options struct {
	Address     string
	Namespace   string
	Snapshotter string // default overlayfs
	// RuncRoot is runc's state directory; empty leaves the shim's default
	// (/run/containerd/runc/<namespace>), which two containerds on one host
	// using the same namespace would share.
	RuncRoot string
	// RegistryConfigDir holds per-registry hosts.toml files in containerd's
	// layout (mirrors, plain HTTP, CAs, client certificates, skip_verify).
	RegistryConfigDir string
	// Credentials returns a registry host's user and password.
	Credentials func(host string) (string, string, error)
	// PullProgressDeadline cancels a pull that has waited this long for
	// the registry with a request or a download open (ErrPullStalled);
	// 0: no deadline.
	PullProgressDeadline time.Duration
	Logger               *zap.Logger
}

// Containerd implements Runtime with the containerd client. It uses only
// services that containerd 1.6, 1.7 and 2.x all serve: no Transfer, no
// Sandbox API.
type Containerd struct {
	client *client.Client
	o      Options
	log    *zap.Logger
	// execSpecs caches the process specs Exec starts from; execFIFOs
	// holds the FIFOs their output comes through.
	execSpecs *execSpecs
	execFIFOs *execFIFOs
	// users caches ImageUsers per image.
	users imageUsersCache
	// clock times pull progress.
	clock clock.WithTicker
}

var _ Runtime = (*Containerd)(nil)

// NewContainerd connects to containerd. The connection is lazy: a daemon
// that is not up yet shows in Healthy, not here.
func NewContainerd(o Options) (*Containerd, error) {
	if o.Snapshotter == "" {
		o.Snapshotter = "overlayfs"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	c, err := client.New(o.Address, client.WithDefaultNamespace(o.Namespace))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", o.Address, err)
	}
	ctrd := &Containerd{client: c, o: o, log: o.Logger, clock: clock.RealClock{}}
	ctrd.execSpecs = newExecSpecs(ctrd.loadProcessSpec)
	// Next to the FIFOs containerd's own client library makes, named after
	// the namespace and the containerd address, so that a leftover says
	// whose it was and the next daemon removes only its own.
	ctrd.execFIFOs = newExecFIFOs(defaults.DefaultFIFODir, fmt.Sprintf("%s-%08x-exec-", o.Namespace, crc32.ChecksumIEEE([]byte(o.Address))))
	if n, err := ctrd.execFIFOs.removeStale(); err != nil || n > 0 {
		ctrd.log.Debug("removed exec FIFOs a previous daemon left", zap.Int("removed", n), zap.Error(err))
	}
	return ctrd, nil
}

// Close releases the connection and removes the idle exec FIFOs.
func (c *Containerd) Close() error {
	c.execFIFOs.close()
	return c.client.Close()
}

func (c *Containerd) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, c.o.Namespace)
}

// Healthy asks containerd for its version.
func (c *Containerd) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(c.ctx(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.client.Version(ctx); err != nil {
		return fmt.Errorf("containerd at %s does not answer: %w", c.o.Address, err)
	}
	return nil
}

// NormalizeImageRef turns a short reference ("busybox") into the full one
// containerd stores ("docker.io/library/busybox:latest").
func NormalizeImageRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return named.String(), nil
}

func wrapNotFound(err error, what string) error {
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// GetImage returns a local image, unpacking it for the snapshotter if an
// import or pull left it packed.
func (c *Containerd) GetImage(ctx context.Context, ref string) (*Image, error) {
	ctx = c.ctx(ctx)
	full, err := NormalizeImageRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := c.client.GetImage(ctx, full)
	if err != nil {
		return nil, wrapNotFound(err, "image "+full)
	}
	return c.describeImage(ctx, img)
}

func (c *Containerd) describeImage(ctx context.Context, img client.Image) (*Image, error) {
	unpacked, err := img.IsUnpacked(ctx, c.o.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("check image %s: %w", img.Name(), err)
	}
	if !unpacked {
		if err := img.Unpack(ctx, c.o.Snapshotter); err != nil {
			return nil, fmt.Errorf("unpack image %s: %w", img.Name(), err)
		}
	}
	spec, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", img.Name(), err)
	}
	size, _ := img.Size(ctx)
	out := &Image{Ref: img.Name(), ID: repoDigest(img.Name(), img.Target().Digest.String()), Target: img.Target(), Size: size}
	out.Config = ImageConfig{
		Entrypoint: spec.Config.Entrypoint,
		Cmd:        spec.Config.Cmd,
		Env:        spec.Config.Env,
		WorkingDir: spec.Config.WorkingDir,
		User:       spec.Config.User,
		StopSignal: spec.Config.StopSignal,
	}
	return out, nil
}

// repoDigest renders an image ID the way the kubelet reports imageID:
// repository@digest.
func repoDigest(ref, dgst string) string {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		return named.Name() + "@" + dgst
	}
	return dgst
}

// PullImage pulls and unpacks an image. Plain HTTP is allowed only for
// registries on localhost. A pull that waits PullProgressDeadline for the
// registry fails with ErrPullStalled.
func (c *Containerd) PullImage(ctx context.Context, ref string) (*Image, error) {
	// A context that ends with the pull: the client keeps each content
	// stream it opens (and a goroutine) until its context ends, and the
	// caller's may live as long as the pod.
	ctx, cancel := context.WithCancelCause(c.ctx(ctx))
	defer cancel(nil)
	full, err := NormalizeImageRef(ref)
	if err != nil {
		return nil, err
	}
	// containerd's own hosts.toml handling: mirrors and TLS per registry
	// from RegistryConfigDir; localhost falls back to plain HTTP.
	opts := config.HostOptions{Credentials: c.o.Credentials}
	if c.o.RegistryConfigDir != "" {
		opts.HostDir = config.HostDirFromRoot(c.o.RegistryConfigDir)
	}
	if d := c.o.PullProgressDeadline; d > 0 {
		// The client's Pull has no progress option: its HTTP clients
		// report to a watchdog that cancels the pull.
		progress := newPullProgress(c.clock)
		opts.UpdateClient = progress.updateClient
		go progress.watch(ctx, d, cancel)
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: config.ConfigureHosts(ctx, opts)})
	img, err := c.client.Pull(ctx, full,
		client.WithResolver(resolver),
		client.WithPullUnpack,
		client.WithPullSnapshotter(c.o.Snapshotter))
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrPullStalled) {
		c.log.Warn("image pull cancelled: no progress", zap.String("image", full), zap.Duration("deadline", c.o.PullProgressDeadline))
		return nil, fmt.Errorf("pull image %s: %w", full, cause)
	}
	if err != nil {
		return nil, wrapNotFound(err, "pull image "+full)
	}
	return c.describeImage(ctx, img)
}

// CreateContainer creates the container with a snapshot of its image: the
// one the request names by target, as the caller resolved it, not whatever
// the name points at now (an import may have moved it since).
func (c *Containerd) CreateContainer(ctx context.Context, req CreateRequest) error {
	ctx = c.ctx(ctx)
	img, err := c.resolved(req.Image)
	if err != nil {
		return fmt.Errorf("create container %s: %w", req.ID, err)
	}
	labels := make(map[string]string, len(req.Labels)+2)
	for k, v := range req.Labels {
		labels[k] = v
	}
	labels[LabelPrefix+"image.id"] = repoDigest(img.Name(), img.Target().Digest.String())
	if req.LogURI != nil {
		labels[labelLogURI] = req.LogURI.String()
	}
	// Always a writable snapshot: runc creates mount points (/proc, /dev)
	// before it makes a read-only rootfs read-only, which a view would
	// refuse.
	snapshot := client.WithNewSnapshot(req.ID, img)
	_, err = c.client.NewContainer(ctx, req.ID,
		client.WithImage(img),
		client.WithSnapshotter(c.o.Snapshotter),
		snapshot,
		client.WithContainerLabels(labels),
		client.WithRuntime(runcRuntime, &options.Options{Root: c.o.RuncRoot}),
		client.WithSpec(req.Spec),
	)
	if err != nil {
		return fmt.Errorf("create container %s: %w", req.ID, err)
	}
	return nil
}

// resolved is the containerd image for an Image that GetImage, PullImage
// or ImportImage returned: its name and the target it had then. Content
// and snapshots are by digest, so this is that image even if the name has
// moved since.
func (c *Containerd) resolved(img *Image) (client.Image, error) {
	if img == nil || img.Target.Digest == "" {
		return nil, errors.New("image not resolved (no target digest)")
	}
	return client.NewImage(c.client, images.Image{Name: img.Ref, Target: img.Target}), nil
}

// StartContainer creates the task with its log and starts it.
func (c *Containerd) StartContainer(ctx context.Context, id string) error {
	ctx = c.ctx(ctx)
	cntr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return wrapNotFound(err, "container "+id)
	}
	labels, err := cntr.Labels(ctx)
	if err != nil {
		return fmt.Errorf("read labels of container %s: %w", id, err)
	}
	creator := cio.NullIO
	if s := labels[labelLogURI]; s != "" {
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("container %s: bad log URI %q: %w", id, s, err)
		}
		creator = cio.LogURI(u)
	}
	task, err := cntr.NewTask(ctx, creator)
	if err != nil {
		c.recordStartError(ctx, cntr, err)
		return fmt.Errorf("create task of container %s: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		c.recordStartError(ctx, cntr, err)
		if _, derr := task.Delete(ctx, client.WithProcessKill); derr != nil {
			c.log.Warn("delete task after failed start", zap.String("container", id), zap.Error(derr))
		}
		return fmt.Errorf("start task of container %s: %w", id, err)
	}
	if _, err := cntr.SetLabels(ctx, map[string]string{LabelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("record start of container %s: %w", id, err)
	}
	return nil
}

func (c *Containerd) recordStartError(ctx context.Context, cntr client.Container, cause error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	_, err := cntr.SetLabels(ctx, map[string]string{
		LabelStartError: cause.Error(),
		LabelExitCode:   "128",
		LabelStartedAt:  now,
		LabelFinishedAt: now,
	})
	if err != nil {
		c.log.Warn("record start error", zap.String("container", cntr.ID()), zap.Error(err))
	}
}

// StopContainer signals the task, waits up to timeout, then kills every
// process in the container.
func (c *Containerd) StopContainer(ctx context.Context, id string, signal syscall.Signal, timeout time.Duration) error {
	ctx = c.ctx(ctx)
	cntr, task, err := c.loadTask(ctx, id)
	if err != nil || task == nil {
		return err
	}
	// Wait before Kill so the exit cannot be missed.
	exitCh, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait for container %s: %w", id, err)
	}
	st, err := task.Status(ctx)
	if err == nil && st.Status != client.Stopped {
		if err := task.Kill(ctx, signal); err != nil && !errdefs.IsNotFound(err) {
			c.log.Warn("send stop signal", zap.String("container", id), zap.Error(err))
		}
		timer := time.NewTimer(timeout)
		select {
		case <-exitCh:
			timer.Stop()
		case <-timer.C:
			// WithKillAll reaches processes the init left behind, which
			// matters when the pod shares one PID namespace.
			if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("kill container %s: %w", id, err)
			}
			select {
			case <-exitCh:
			case <-time.After(30 * time.Second):
				return fmt.Errorf("container %s did not exit after SIGKILL", id)
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
	return c.recordExit(ctx, cntr, task)
}

// RecordExit stores the exit status of a stopped task and deletes the task.
func (c *Containerd) RecordExit(ctx context.Context, id string) error {
	ctx = c.ctx(ctx)
	cntr, task, err := c.loadTask(ctx, id)
	if err != nil || task == nil {
		return err
	}
	return c.recordExit(ctx, cntr, task)
}

// loadTask loads a container and its task. A container with no task (never
// started, or its exit already recorded) has a nil task and no error; a
// missing container wraps ErrNotFound.
func (c *Containerd) loadTask(ctx context.Context, id string) (client.Container, client.Task, error) {
	cntr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, nil, wrapNotFound(err, "container "+id)
	}
	task, err := cntr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return cntr, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load task of container %s: %w", id, err)
	}
	return cntr, task, nil
}

func (c *Containerd) recordExit(ctx context.Context, cntr client.Container, task client.Task) error {
	st, err := task.Status(ctx)
	if err != nil {
		return fmt.Errorf("status of container %s: %w", cntr.ID(), err)
	}
	if st.Status != client.Stopped {
		return fmt.Errorf("container %s is %s, not stopped", cntr.ID(), st.Status)
	}
	exitedAt := st.ExitTime
	if exitedAt.IsZero() {
		exitedAt = time.Now()
	}
	labels := map[string]string{
		LabelExitCode:   strconv.FormatUint(uint64(st.ExitStatus), 10),
		LabelFinishedAt: exitedAt.UTC().Format(time.RFC3339Nano),
	}
	// Before the task is deleted: that removes the cgroup with its count.
	if info, err := cntr.Info(ctx, client.WithoutRefreshedMetadata); err == nil {
		if oom, err := oomKilled(cgroupRoot, info); err != nil {
			c.log.Warn("read the OOM kill count", zap.String("container", cntr.ID()), zap.Error(err))
		} else if oom {
			labels[LabelOOMKilled] = "true"
		}
	}
	if _, err := cntr.SetLabels(ctx, labels); err != nil {
		return fmt.Errorf("record exit of container %s: %w", cntr.ID(), err)
	}
	if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task of container %s: %w", cntr.ID(), err)
	}
	// An attempt that exited never runs again (a restart is a new
	// container), so nothing will exec in it.
	c.execSpecs.forget(cntr.ID())
	return nil
}

// RemoveContainer kills and deletes the task if any, then the container
// and its snapshot.
func (c *Containerd) RemoveContainer(ctx context.Context, id string) error {
	ctx = c.ctx(ctx)
	c.execSpecs.forget(id)
	cntr, err := c.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load container %s: %w", id, err)
	}
	if task, err := cntr.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task of container %s: %w", id, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("load task of container %s: %w", id, err)
	}
	if err := cntr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}

// ListContainers lists the daemon's containers matching all labels given.
func (c *Containerd) ListContainers(ctx context.Context, match map[string]string) ([]Container, error) {
	ctx = c.ctx(ctx)
	filter := fmt.Sprintf("labels.%q", LabelKind)
	for k, v := range match {
		filter += fmt.Sprintf(",labels.%q==%s", k, strconv.Quote(v))
	}
	cs, err := c.client.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]Container, 0, len(cs))
	for _, cntr := range cs {
		ct, err := c.describe(ctx, cntr)
		if errdefs.IsNotFound(err) {
			continue // removed while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, nil
}

func (c *Containerd) describe(ctx context.Context, cntr client.Container) (Container, error) {
	info, err := cntr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return Container{}, err
	}
	ct := Container{
		ID:         info.ID,
		Labels:     info.Labels,
		Image:      info.Image,
		ImageID:    info.Labels[LabelPrefix+"image.id"],
		CreatedAt:  info.CreatedAt,
		State:      StateCreated,
		OOMKilled:  info.Labels[LabelOOMKilled] == "true",
		StartError: info.Labels[LabelStartError],
	}
	ct.StartedAt = parseTime(info.Labels[LabelStartedAt])
	ct.FinishedAt = parseTime(info.Labels[LabelFinishedAt])
	if s, ok := info.Labels[LabelExitCode]; ok {
		n, _ := strconv.Atoi(s)
		ct.ExitCode = int32(n)
		ct.State = StateExited
	}
	// One Get of the task gives its pid and status; the client's
	// cntr.Task followed by task.Status would ask twice, and every pod
	// sync lists its containers (so does every restart).
	r, err := c.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: info.ID})
	if err = errgrpc.ToNative(err); err != nil {
		if !errdefs.IsNotFound(err) {
			ct.State = StateUnknown
		}
		return ct, nil
	}
	p := r.GetProcess()
	ct.TaskAlive = true
	ct.Pid = p.GetPid()
	switch p.GetStatus() {
	case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
		ct.State = StateRunning
	case tasktypes.Status_STOPPED:
		ct.State = StateExited
		ct.ExitCode = int32(p.GetExitStatus())
		if t := p.GetExitedAt(); t != nil {
			ct.FinishedAt = t.AsTime()
		}
	case tasktypes.Status_CREATED:
		ct.State = StateCreated
	}
	return ct, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// WritableLayerUsage asks the container's snapshotter for the usage of
// its active snapshot, which the overlayfs snapshotter measures on the
// upper directory: what the container wrote, not its image.
func (c *Containerd) WritableLayerUsage(ctx context.Context, id string) (int64, error) {
	ctx = c.ctx(ctx)
	cntr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return 0, wrapNotFound(err, "container "+id)
	}
	info, err := cntr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return 0, wrapNotFound(err, "container "+id)
	}
	u, err := c.client.SnapshotService(info.Snapshotter).Usage(ctx, info.SnapshotKey)
	if err != nil {
		return 0, wrapNotFound(err, "snapshot of container "+id)
	}
	return u.Size, nil
}

// SetLabels adds labels to a container.
func (c *Containerd) SetLabels(ctx context.Context, id string, labels map[string]string) error {
	ctx = c.ctx(ctx)
	cntr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return wrapNotFound(err, "container "+id)
	}
	if _, err := cntr.SetLabels(ctx, labels); err != nil {
		return fmt.Errorf("set labels of container %s: %w", id, err)
	}
	return nil
}

// Subscribe streams the exits of containers' init processes and OOM kills.
func (c *Containerd) Subscribe(ctx context.Context) (<-chan Event, <-chan error) {
	out := make(chan Event, 64)
	errc := make(chan error, 1)
	envs, errs := c.client.Subscribe(c.ctx(ctx),
		fmt.Sprintf(`namespace==%q,topic=="/tasks/exit"`, c.o.Namespace),
		fmt.Sprintf(`namespace==%q,topic=="/tasks/oom"`, c.o.Namespace))
	go func() {
		defer close(out)
		for {
			select {
			case env, ok := <-envs:
				if !ok {
					errc <- errors.New("containerd event stream closed")
					return
				}
				ev, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					c.log.Warn("decode containerd event", zap.String("topic", env.Topic), zap.Error(err))
					continue
				}
				var e Event
				switch ev := ev.(type) {
				case *apievents.TaskExit:
					// Exits of exec'd processes (probes, hooks) are not
					// container exits.
					if ev.ID != ev.ContainerID {
						continue
					}
					e = Event{Kind: EventExit, ContainerID: ev.ContainerID, ExitCode: ev.ExitStatus}
					if ev.ExitedAt != nil {
						e.ExitedAt = ev.ExitedAt.AsTime()
					}
				case *apievents.TaskOOM:
					e = Event{Kind: EventOOM, ContainerID: ev.ContainerID}
				default:
					continue
				}
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			case err := <-errs:
				if err == nil {
					err = errors.New("containerd event stream ended")
				}
				errc <- err
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}
