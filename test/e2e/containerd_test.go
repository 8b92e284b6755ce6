package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
)

// containerd is a private containerd: its root, state, sockets and plugin
// directory live under dir, so the tests neither need nor disturb a system
// containerd, and the daemons under test talk to it with
// --containerd-address.
type containerd struct {
	dir     string
	addr    string
	logPath string
	cmd     *exec.Cmd
	exited  chan error
	client  *client.Client
}

// containerdConfig is containerd 1.6's config (version 2). The CRI plugin
// is off: it would want CNI config and owns the k8s.io namespace, and
// minikubelet talks to containerd's own API.
const containerdConfig = `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`

func startContainerd(dir string) (*containerd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &containerd{dir: dir, addr: filepath.Join(dir, "c.sock"), logPath: filepath.Join(dir, "containerd.log")}
	config := fmt.Sprintf(containerdConfig,
		filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		c.addr, c.addr+".ttrpc", c.addr+".debug", filepath.Join(dir, "opt"))
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	c.cmd = exec.Command("containerd", "--config", configPath, "--log-level", "debug")
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	// If the test binary dies (go test's -timeout), containerd goes too;
	// hack/test.sh then cleans up the rest.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	c.exited = make(chan error, 1)
	go func() { c.exited <- c.cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		cl, err := client.New(c.addr, client.WithTimeout(time.Second))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			serving, serr := cl.IsServing(ctx)
			cancel()
			if serr == nil && serving {
				c.client = cl
				return c, nil
			}
			cl.Close()
			err = serr
		}
		select {
		case werr := <-c.exited:
			c.exited <- werr
			return nil, fmt.Errorf("containerd exited at start: %v\n%s", werr, tailFile(c.logPath, 40))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("containerd not serving at %s after 30s: %v\n%s", c.addr, err, tailFile(c.logPath, 40))
		}
	}
}

// ctr runs containerd's own CLI against this containerd, in namespace ns.
func (c *containerd) ctr(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", c.addr, "--namespace", ns}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// nsContext is a bounded context in containerd namespace ns.
func nsContext(ns string, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	return namespaces.WithNamespace(ctx, ns), cancel
}

// containerObj is the part of a containerd container the tests look at.
type containerObj struct {
	ID     string
	Labels map[string]string
}

// containers lists the containers of namespace ns whose labels include
// all of match.
func (c *containerd) containers(ns string, match map[string]string) ([]containerObj, error) {
	ctx, cancel := nsContext(ns, 10*time.Second)
	defer cancel()
	var filters []string
	for k, v := range match {
		filters = append(filters, fmt.Sprintf("labels.%q==%q", k, v))
	}
	list, err := c.client.ContainerService().List(ctx, strings.Join(filters, ","))
	if err != nil {
		return nil, fmt.Errorf("list containers in %s: %w", ns, err)
	}
	out := make([]containerObj, 0, len(list))
	for _, ct := range list {
		out = append(out, containerObj{ID: ct.ID, Labels: ct.Labels})
	}
	return out, nil
}

// tasks returns the pid of every task in namespace ns, by container ID.
func (c *containerd) tasks(ns string) (map[string]uint32, error) {
	ctx, cancel := nsContext(ns, 10*time.Second)
	defer cancel()
	resp, err := c.client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("list tasks in %s: %w", ns, err)
	}
	out := map[string]uint32{}
	for _, p := range resp.Tasks {
		out[p.ID] = p.Pid
	}
	return out, nil
}

// snapshots returns the keys of every snapshot (active and committed) of
// the overlayfs snapshotter in namespace ns.
func (c *containerd) snapshots(ns string) ([]string, error) {
	ctx, cancel := nsContext(ns, 10*time.Second)
	defer cancel()
	var keys []string
	err := c.client.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		keys = append(keys, info.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk snapshots in %s: %w", ns, err)
	}
	return keys, nil
}

// purge removes every task and container of namespace ns, with their
// snapshots: what a daemon that failed its own cleanup left behind.
func (c *containerd) purge(ns string) error {
	ctx, cancel := nsContext(ns, 60*time.Second)
	defer cancel()
	list, err := c.client.Containers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ct := range list {
		if task, err := ct.Task(ctx, nil); err == nil {
			_ = task.Kill(ctx, syscall.SIGKILL, client.WithKillAll)
			if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete task %s: %w", ct.ID(), err))
			}
		}
		if err := ct.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete container %s: %w", ct.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// stop ends containerd (SIGTERM lets it close its database and unmount),
// then kills any shim it left, which would otherwise outlive the run.
func (c *containerd) stop() {
	if c.client != nil {
		c.client.Close()
	}
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	for _, pid := range pidsWithArg(c.addr) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pidsWithArg returns the processes one of whose arguments is arg
// (shims carry "-address <containerd socket>").
func pidsWithArg(arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// mountsUnder returns the mount points at or below dir, from
// /proc/self/mountinfo (the daemon mounts in the host's namespace).
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder lazily unmounts everything below dir, deepest first.
func unmountUnder(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(mps) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mps[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mps[i], err))
		}
	}
	return errors.Join(errs...)
}

// podCgroupDirs returns the cgroup directories of a pod that exist, in any
// hierarchy (cgroup v1 has one per controller; v2 one).
func podCgroupDirs(uid string) []string {
	var dirs []string
	var patterns []string
	for _, qos := range []string{"", "burstable/", "besteffort/"} {
		patterns = append(patterns, "/sys/fs/cgroup/minikubelet/"+qos+"pod"+uid, "/sys/fs/cgroup/*/minikubelet/"+qos+"pod"+uid)
	}
	for _, pattern := range patterns {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// removePodCgroups removes a pod's cgroups left behind, children first;
// rmdir fails harmlessly on a cgroup that still has processes.
func removePodCgroups(uid string) {
	for _, d := range podCgroupDirs(uid) {
		children, _ := os.ReadDir(d)
		for _, c := range children {
			if c.IsDir() {
				_ = syscall.Rmdir(filepath.Join(d, c.Name()))
			}
		}
		_ = syscall.Rmdir(d)
	}
}

// tailFile returns the last n lines of a file, for failure messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
