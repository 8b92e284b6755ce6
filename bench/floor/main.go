// Command floor measures the least work any containerd-based pod runner
// must do to start a pod: a pause sandbox in a new network namespace (made
// by runc from the OCI spec, no CNI) and the pod's containers joining its
// namespaces, all in one runc v2 shim (the group annotation), each task
// started and seen running. It uses only services containerd 1.6 serves.
//
// It prints one JSON object per scenario on stdout (see result); the
// benchmark in test/e2e/bench_start_test.go runs it against the same
// containerd as the daemon and reports the daemon's latency as a ratio.
//
//	floor -address SOCK -namespace NS -pause bin/minikubelet-pause \
//	      -image localhost/minikubelet/busybox:e2e -pods 20 -containers 3 -mode concurrent
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

const (
	runcRuntime     = "io.containerd.runc.v2"
	groupAnnotation = "io.containerd.runc.v2.group"
	pauseRef        = "localhost/minikubelet/pause:floor"
	cgroupParent    = "/minikubelet-floor"
)

// result is what floor prints, one line per run.
type result struct {
	Mode       string    `json:"mode"` // "serial" or "concurrent"
	Containers int       `json:"containers"`
	Pods       int       `json:"pods"`
	P50ms      float64   `json:"p50_ms"`
	P90ms      float64   `json:"p90_ms"`
	Samplesms  []float64 `json:"samples_ms"`
}

type floor struct {
	c           *client.Client
	snapshotter string
	runcRoot    string
	pause       client.Image
	image       client.Image
	containers  int
	run         string // unique prefix of this run's IDs
}

func main() {
	address := flag.String("address", "/run/containerd/containerd.sock", "containerd socket")
	ns := flag.String("namespace", "minikubelet-floor", "containerd namespace")
	pauseBin := flag.String("pause", "bin/minikubelet-pause", "the static pause binary, imported as "+pauseRef)
	imageRef := flag.String("image", "", "the containers' image (already present in the namespace)")
	snapshotter := flag.String("snapshotter", "overlayfs", "containerd snapshotter")
	runcRoot := flag.String("runc-root", "", "runc's state directory (empty: the shim's default)")
	pods := flag.Int("pods", 20, "pods to start")
	containers := flag.Int("containers", 1, "containers per pod (busybox sleep)")
	mode := flag.String("mode", "serial", "serial (one pod at a time) or concurrent (all at once)")
	flag.Parse()
	if *imageRef == "" || (*mode != "serial" && *mode != "concurrent") {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*address, *ns, *pauseBin, *imageRef, *snapshotter, *runcRoot, *pods, *containers, *mode); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(address, ns, pauseBin, imageRef, snapshotter, runcRoot string, pods, containers int, mode string) error {
	c, err := client.New(address)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), ns)
	f := &floor{c: c, snapshotter: snapshotter, runcRoot: runcRoot, containers: containers,
		run: fmt.Sprintf("floor-%d", time.Now().UnixNano()%1e9)}
	if f.pause, err = importPause(ctx, c, pauseBin, snapshotter); err != nil {
		return err
	}
	if f.image, err = c.GetImage(ctx, imageRef); err != nil {
		return fmt.Errorf("image %s: %w", imageRef, err)
	}
	if err := unpack(ctx, f.image, snapshotter); err != nil {
		return err
	}
	// Warm-up pod, not counted: the first shim start pays page-cache misses.
	if _, err := f.startPod(ctx, "warm"); err != nil {
		return err
	}
	f.deletePod(ctx, "warm")

	samples := make([]time.Duration, pods)
	ids := make([]string, pods)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%d", i)
	}
	defer func() {
		for _, id := range ids {
			f.deletePod(ctx, id)
		}
	}()
	switch mode {
	case "serial":
		for i, id := range ids {
			if samples[i], err = f.startPod(ctx, id); err != nil {
				return err
			}
		}
	case "concurrent":
		var wg sync.WaitGroup
		errs := make([]error, pods)
		t0 := time.Now()
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.startPod(ctx, id)
				samples[i] = time.Since(t0)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	r := result{Mode: mode, Containers: containers, Pods: pods}
	for _, s := range samples {
		r.Samplesms = append(r.Samplesms, ms(s))
	}
	r.P50ms, r.P90ms = percentile(samples, 50), percentile(samples, 90)
	return json.NewEncoder(os.Stdout).Encode(r)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the nearest-rank percentile, in milliseconds.
func percentile(samples []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := (p*len(s) + 99) / 100
	if k < 1 {
		k = 1
	}
	return ms(s[k-1])
}

func importPause(ctx context.Context, c *client.Client, pauseBin, snapshotter string) (client.Image, error) {
	files, cfg, err := ocibuild.PauseFiles(pauseBin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := ocibuild.WriteArchive(&buf, pauseRef, files, cfg); err != nil {
		return nil, err
	}
	imgs, err := c.Import(ctx, &buf)
	if err != nil {
		return nil, fmt.Errorf("import pause image: %w", err)
	}
	if len(imgs) == 0 {
		return nil, errors.New("import pause image: no image in the archive")
	}
	img, err := c.GetImage(ctx, imgs[0].Name)
	if err != nil {
		return nil, err
	}
	return img, unpack(ctx, img, snapshotter)
}

func unpack(ctx context.Context, img client.Image, snapshotter string) error {
	ok, err := img.IsUnpacked(ctx, snapshotter)
	if err != nil || ok {
		return err
	}
	return img.Unpack(ctx, snapshotter)
}

func (f *floor) sandboxID(pod string) string { return f.run + "-" + pod }

func (f *floor) containerID(pod string, i int) string {
	return fmt.Sprintf("%s-%s-c%d", f.run, pod, i)
}

// startPod creates and starts the sandbox and then the containers, and
// returns how long that took.
func (f *floor) startPod(ctx context.Context, pod string) (time.Duration, error) {
	t0 := time.Now()
	sb := f.sandboxID(pod)
	cg := cgroupParent + "/pod-" + sb
	// The default spec already has new pid, ipc, uts, mount and network
	// namespaces: runc makes the network namespace.
	pid, err := f.start(ctx, sb, f.pause,
		oci.WithImageConfig(f.pause),
		oci.WithProcessArgs("/pause"),
		oci.WithHostname(pod),
		oci.WithCgroup(cg+"/"+sb),
		oci.WithAnnotations(map[string]string{groupAnnotation: sb}),
	)
	if err != nil {
		return 0, err
	}
	for i := 0; i < f.containers; i++ {
		id := f.containerID(pod, i)
		_, err := f.start(ctx, id, f.image,
			oci.WithImageConfig(f.image),
			oci.WithProcessArgs("sleep", "3600"),
			oci.WithCgroup(cg+"/"+id),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", pid)}),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: fmt.Sprintf("/proc/%d/ns/ipc", pid)}),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", pid)}),
			oci.WithAnnotations(map[string]string{groupAnnotation: sb}),
		)
		if err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// start creates a container with a writable snapshot of img, starts its
// task and waits until containerd reports it running; it returns the pid.
func (f *floor) start(ctx context.Context, id string, img client.Image, opts ...oci.SpecOpts) (uint32, error) {
	cntr, err := f.c.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithSnapshotter(f.snapshotter),
		client.WithNewSnapshot(id, img),
		client.WithRuntime(runcRuntime, &options.Options{Root: f.runcRoot}),
		client.WithNewSpec(opts...),
	)
	if err != nil {
		return 0, fmt.Errorf("create container %s: %w", id, err)
	}
	task, err := cntr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return 0, fmt.Errorf("create task %s: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		return 0, fmt.Errorf("start task %s: %w", id, err)
	}
	for {
		st, err := task.Status(ctx)
		if err != nil {
			return 0, fmt.Errorf("status of task %s: %w", id, err)
		}
		if st.Status == client.Running {
			return task.Pid(), nil
		}
		if st.Status == client.Stopped {
			return 0, fmt.Errorf("task %s exited (%d)", id, st.ExitStatus)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deletePod kills and removes a pod's containers (sandbox last) and its
// cgroup; errors are ignored, as in a cleanup.
func (f *floor) deletePod(ctx context.Context, pod string) {
	ids := []string{}
	for i := 0; i < f.containers; i++ {
		ids = append(ids, f.containerID(pod, i))
	}
	ids = append(ids, f.sandboxID(pod))
	for _, id := range ids {
		cntr, err := f.c.LoadContainer(ctx, id)
		if err != nil {
			continue
		}
		if task, err := cntr.Task(ctx, nil); err == nil {
			_ = task.Kill(ctx, syscall.SIGKILL, client.WithKillAll)
			if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				fmt.Fprintf(os.Stderr, "floor: delete task %s: %v\n", id, err)
			}
		}
		_ = cntr.Delete(ctx, client.WithSnapshotCleanup)
	}
	removeCgroup(filepath.Join(cgroupParent, "pod-"+f.sandboxID(pod)), ids)
}

// removeCgroup removes a pod cgroup and its children in any hierarchy.
func removeCgroup(dir string, children []string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		d := filepath.Join(r, dir)
		for _, c := range children {
			_ = syscall.Rmdir(filepath.Join(d, c))
		}
		_ = syscall.Rmdir(d)
	}
}
