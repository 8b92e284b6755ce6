package pod

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/moby/sys/signal"
	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/containerlog"
	"github.com/minikubelet/minikubelet/internal/lifecycle"
	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
	"github.com/minikubelet/minikubelet/internal/spec"
	"github.com/minikubelet/minikubelet/internal/volume"
)

// labelStopSignal keeps the image's STOPSIGNAL on the container, so a stop
// needs no image lookup (and works when the image is gone).
const labelStopSignal = runtime.LabelPrefix + "stop-signal"

// logPath is where attempt n of a container writes its log, as the
// kubelet lays out /var/log/pods: <pod dir>/logs/<container>/<n>.log.
func (s *syncer) logPath(container string, attempt int) string {
	return filepath.Join(s.sandboxes.PodDir(string(s.pod.UID)), "logs", container, strconv.Itoa(attempt)+".log")
}

// startContainer creates and starts attempt n of a container, then drops
// attempts older than the previous one (kept for logs --previous and
// lastState). It returns when to look again.
func (s *syncer) startContainer(ctx context.Context, obs observed, sb *runtime.Container, c *v1.Container, attempt int) time.Time {
	retry := func(reason, msg string) time.Time {
		// From the failure, not from the attempt's start: a pull may take
		// long to fail, and ErrImagePull shows for its moment after that.
		now := s.clock.Now()
		s.waiting[c.Name] = waiting{Reason: reason, Message: msg, Since: now}
		s.steps[setupKey(c.Name)]++
		d := lifecycle.Delay(s.steps[setupKey(c.Name)], s.backOff)
		s.due[c.Name] = now.Add(d)
		return s.due[c.Name]
	}
	img, waited, wt := s.ensureImage(ctx, c)
	if wt != nil {
		due := retry(wt.Reason, wt.Message)
		if wt.Reason == "ErrImagePull" {
			// ErrImagePull shows for a moment, then ImagePullBackOff until
			// the retry, as kubectl users know it.
			if flip := s.waiting[c.Name].Since.Add(imagePullBackOffAfter); flip.Before(due) {
				return flip
			}
		}
		return due
	}
	id := newID()
	paths := s.sandboxes.PodPaths(string(s.pod.UID))
	if s.pod.Spec.HostIPC {
		paths.Shm = ""
	}
	// The file itself is made only right before the create, so that an
	// attempt that fails before leaves none behind.
	termLog := s.terminationLogPath(c, id)
	// Volume errors (a failed hostPath type check, a subPath leaving its
	// volume) are the container's, as the kubelet reports subPath ones.
	mounts, err := volume.ContainerMounts(s.pod, c, paths.Dir)
	if err != nil {
		s.event(c.Name, v1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return retry("CreateContainerConfigError", err.Error())
	}
	// The image's users and groups, as the runtime resolves them for the
	// kubelet at container creation: a failure to read them is the
	// runtime's (CreateContainerError), a user they lack is the config's.
	users, err := s.rt.ImageUsers(ctx, img)
	if err != nil {
		s.metrics.runtimeErrors.WithLabelValues("image_users").Inc()
		s.event(c.Name, v1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return retry("CreateContainerError", err.Error())
	}
	ociSpec, err := spec.ContainerSpec(spec.Container{
		ID:        id,
		Pod:       s.pod,
		Container: c,
		Image: spec.ImageConfig{
			Entrypoint: img.Config.Entrypoint, Cmd: img.Config.Cmd, Env: img.Config.Env,
			WorkingDir: img.Config.WorkingDir, User: img.Config.User,
			Users: users.Users, Groups: users.Groups,
		},
		SandboxID:  sb.ID,
		SandboxPid: sb.Pid,
		NetNSPath:  s.sandboxes.NetNSPath(sb.ID),
		HostsPath:  paths.Hosts, HostnamePath: paths.Hostname, ResolvConfPath: paths.ResolvConf, ShmPath: paths.Shm,
		HostIP:             s.hostIP,
		PodIP:              s.probeIP(),
		Mounts:             mounts,
		TerminationLogPath: termLog,
	})
	if err != nil {
		s.event(c.Name, v1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return retry("CreateContainerConfigError", err.Error())
	}
	logPath := s.logPath(c.Name, attempt)
	labels := sandbox.PodLabels(s.pod)
	labels[runtime.LabelKind] = runtime.KindContainer
	labels[runtime.LabelContainerName] = c.Name
	labels[runtime.LabelContainerType] = "app"
	if _, isInit := containerByName(s.pod, c.Name); isInit {
		labels[runtime.LabelContainerType] = "init"
	}
	labels[runtime.LabelAttempt] = strconv.Itoa(attempt)
	labels[runtime.LabelSandboxID] = sb.ID
	labels[runtime.LabelLogPath] = logPath
	if termLog != "" {
		labels[labelTerminationLog] = termLog
	}
	if img.Config.StopSignal != "" {
		labels[labelStopSignal] = img.Config.StopSignal
	}
	req := runtime.CreateRequest{ID: id, Image: img, Spec: ociSpec, Labels: labels}
	if s.loggerExe != "" {
		uri, err := containerlog.BinaryURI(s.loggerExe, containerlog.LoggerSpec{Path: logPath, MaxSize: s.logMaxSize, MaxFiles: s.logMaxFiles})
		if err != nil {
			return retry("CreateContainerConfigError", err.Error())
		}
		req.LogURI = uri
	}
	// The spec joins the sandbox's namespaces through /proc/<pid>/ns, by
	// the pause PID this sync observed. After a wait (a pull, a slow
	// step) that process may be gone and its PID another's: look again,
	// and leave a changed sandbox to the next sync (SandboxChanged).
	if waited || s.clock.Since(s.sandboxSeen) >= sandboxRecheckAfter {
		if !s.sandboxUnchanged(ctx, sb) {
			s.poke()
			return time.Time{}
		}
	}
	if _, err := s.createTerminationLog(c, id); err != nil {
		return retry("CreateContainerConfigError", err.Error())
	}
	s.routes.track(id)
	if err := s.rt.CreateContainer(ctx, req); err != nil {
		if termLog != "" {
			_ = os.Remove(termLog)
		}
		s.metrics.runtimeErrors.WithLabelValues("create_container").Inc()
		s.event(c.Name, v1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return retry("CreateContainerError", err.Error())
	}
	s.event(c.Name, v1.EventTypeNormal, "Created", "Created container: "+c.Name)
	delete(s.steps, setupKey(c.Name))
	delete(s.due, c.Name)
	if err := s.rt.StartContainer(ctx, id); err != nil {
		s.metrics.runtimeErrors.WithLabelValues("start_container").Inc()
		msg := fmt.Sprintf("Error: failed to start container %q: %v", c.Name, err)
		s.event(c.Name, v1.EventTypeWarning, "Failed", msg)
		// The attempt stays as an exited container (ContainerCannotRun in
		// lastState); the restart policy and back-off decide what follows.
		s.waiting[c.Name] = waiting{Reason: "RunContainerError", Message: msg}
		s.poke()
	} else {
		delete(s.waiting, c.Name)
		s.event(c.Name, v1.EventTypeNormal, "Started", "Started container "+c.Name)
		if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
			// Publish the pod now: the hook may take long, and until it
			// returns the container shows as ContainerCreating.
			s.postStartRunning = id
			if cur, err := s.list(ctx); err == nil {
				s.report(cur, true)
			}
			ok := s.runPostStart(ctx, c, id)
			s.postStartRunning = ""
			if !ok {
				s.poke()
			}
		}
	}
	s.pruneAttempts(ctx, obs, c.Name, attempt)
	return time.Time{}
}

// sandboxRecheckAfter is how old the sandbox's observation may be when a
// container is created without looking at the sandbox again. Below it
// (no pull, nothing slow) the create costs no extra runtime call.
const sandboxRecheckAfter = time.Second

// sandboxUnchanged reports whether sb's pause process is still the one the
// container spec names: the sandbox's task runs, with the same PID.
func (s *syncer) sandboxUnchanged(ctx context.Context, sb *runtime.Container) bool {
	cs, err := s.rt.ListContainers(ctx, map[string]string{runtime.LabelPodUID: string(s.pod.UID), runtime.LabelKind: runtime.KindSandbox})
	if err != nil {
		s.log.Warn("look at the sandbox again before creating a container", zap.String("sandbox", sb.ID), zap.Error(err))
		return false
	}
	for _, c := range cs {
		if c.ID != sb.ID {
			continue
		}
		if c.State == runtime.StateRunning && c.Pid == sb.Pid {
			return true
		}
		s.log.Info("sandbox changed while a container was prepared; syncing again",
			zap.String("sandbox", sb.ID), zap.Uint32("pid", sb.Pid), zap.Uint32("pidNow", c.Pid), zap.Stringer("state", c.State))
		return false
	}
	s.log.Info("sandbox gone while a container was prepared; syncing again", zap.String("sandbox", sb.ID))
	return false
}

// pruneAttempts removes attempts older than attempt-1: the kubelet keeps
// one dead container per container name.
func (s *syncer) pruneAttempts(ctx context.Context, obs observed, name string, attempt int) {
	for _, old := range obs.containers[name] {
		if old.Attempt() >= attempt-1 {
			continue
		}
		if err := s.rt.RemoveContainer(ctx, old.ID); err != nil {
			s.log.Warn("remove old attempt", zap.String("container", old.ID), zap.Error(err))
			continue
		}
		removeLog(old.Labels[runtime.LabelLogPath])
		if p := old.Labels[labelTerminationLog]; p != "" {
			_ = os.Remove(p)
		}
	}
}

// stopSignal is the image's STOPSIGNAL, else SIGTERM.
func stopSignal(c runtime.Container) syscall.Signal {
	if s := c.Labels[labelStopSignal]; s != "" {
		if sig, err := signal.ParseSignal(s); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}
