// Package daemon wires the daemon together: containerd (or an embedded
// one), the sandbox image, the manifest source, the pod manager, the status
// store and the socket API, and runs them until told to stop.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/minikubelet/minikubelet/internal/api"
	"github.com/minikubelet/minikubelet/internal/cni"
	"github.com/minikubelet/minikubelet/internal/config"
	"github.com/minikubelet/minikubelet/internal/imagedir"
	"github.com/minikubelet/minikubelet/internal/imagegc"
	"github.com/minikubelet/minikubelet/internal/kubeapi"
	"github.com/minikubelet/minikubelet/internal/lifecycle"
	"github.com/minikubelet/minikubelet/internal/manifest"
	"github.com/minikubelet/minikubelet/internal/pod"
	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
	"github.com/minikubelet/minikubelet/internal/status"
	"github.com/minikubelet/minikubelet/internal/version"
)

// Run runs the daemon until ctx ends. Pods keep running after it returns.
func Run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	log.Info("starting minikubelet", zap.String("version", version.Version), zap.String("node", cfg.NodeName),
		zap.String("manifestDir", cfg.ManifestDir), zap.String("stateDir", cfg.StateDir))
	routeClientLogs(log)
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	clk := clock.RealClock{}
	store := status.NewStore(clk, 2000)
	store.SetHost(cfg.NodeName)
	// The API answers from the start — /healthz says why the daemon is not
	// ready while containerd is missing — so an operator is never left
	// guessing.
	podMetrics := pod.NewMetrics()
	maxImport, _ := cfg.ImageImportMaxSize()
	b := &backend{store: store, sandboxImage: cfg.SandboxImage, maxImport: maxImport, imports: make(chan struct{}, 1)}
	b.setWaiting("starting")
	kube := kubeapi.New(kubeapi.Options{Backend: b, ManifestDir: cfg.ManifestDir, Started: clk.Now(), Clock: clk})
	var kubeconfig func(role, server string) ([]byte, error)
	if cfg.KubeAPIAddress != "" {
		pki, err := kubeapi.LoadPKI(filepath.Join(cfg.StateDir, "pki"), cfg.NodeName, cfg.KubeAPIAddress, clk.Now)
		if err != nil {
			return err
		}
		kln, err := kubeapi.Listen(cfg.KubeAPIAddress, pki, kube.Handler(), log.Named("kube-api"))
		if err != nil {
			return err
		}
		go func() {
			if err := kln.Serve(); err != nil {
				log.Error("Kubernetes API listener stopped", zap.Error(err))
			}
		}()
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = kln.Shutdown(sctx)
			scancel()
		}()
		log.Info("serving the Kubernetes API", zap.String("address", kln.Addr().String()), zap.String("pki", filepath.Join(cfg.StateDir, "pki")))
		kubeconfig = func(role, server string) ([]byte, error) {
			return pki.Kubeconfig(cfg.NodeName, kln.Addr().String(), role, server)
		}
	}
	srv, err := api.NewServer(api.ServerOptions{
		KubeAPI: kube.Handler(), Kubeconfig: kubeconfig,
		Socket: cfg.Socket, Group: cfg.SocketGroup, Backend: b,
		Metrics: metricsHandler(store, b.runtimeHealthy, podMetrics.Collectors()...), Logger: log,
		MaxLogFollowers: cfg.MaxLogFollowers, MaxImageImportSize: maxImport,
	})
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}()
	// systemd hears READY once the socket serves: from then on /healthz is
	// the truth about containerd, and the watchdog watches the daemon
	// itself, not containerd (which has its own unit).
	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("notify systemd", zap.Error(err))
	} else if ok {
		log.Debug("notified systemd")
	}
	go watchdog(ctx, log)

	address, runcRoot, embedded, err := connectContainerd(ctx, cfg, b, log)
	if err != nil || ctx.Err() != nil {
		return err
	}
	if embedded != nil {
		defer embedded.stop()
	}
	rt, err := runtime.NewContainerd(runtime.Options{
		Address: address, Namespace: cfg.ContainerdNamespace, Snapshotter: cfg.Snapshotter,
		RuncRoot: runcRoot, Logger: log.Named("runtime"),
		RegistryConfigDir:    cfg.RegistryConfigDir,
		Credentials:          runtime.DockerCredentials(cfg.RegistryCredentials),
		PullProgressDeadline: cfg.ImagePullProgressDeadline.Duration,
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		err := rt.Healthy(ctx)
		if err == nil {
			break
		}
		b.setWaiting(err.Error())
		log.Warn("containerd does not answer; retrying", zap.String("address", address), zap.Duration("in", delay), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for the container log writer: %w", err)
	}
	maxSize, _ := cfg.LogMaxSize()
	images := &sandboxImage{ref: cfg.SandboxImage, rt: rt, exe: exe, log: log.Named("sandbox-image")}
	if err := images.ensure(ctx); err != nil {
		// Not fatal: pods report FailedCreatePodSandBox with this reason
		// and are retried, and the API still answers.
		log.Error("sandbox image unavailable", zap.Error(err))
	}
	sandboxes := &sandbox.Manager{
		StateDir: cfg.StateDir, Runtime: rt, Image: cfg.SandboxImage,
		EnsureImage: images.ensure, Logger: log.Named("sandbox"),
		PodMaxPids: cfg.PodMaxPids,
	}
	// Pod network (CNI); without one pods keep a loopback-only network.
	nw := podNetwork(cfg, log.Named("cni"))
	if nw != nil {
		sandboxes.Network = nw
	}
	hostIP := hostIP()
	pods := pod.NewManager(pod.Options{
		Runtime: rt, Sandboxes: sandboxes, Store: store, Clock: clk, Logger: log,
		NodeName: cfg.NodeName, HostIP: hostIP, LoggerExe: loggerExe(exe, log),
		LogMaxSize: maxSize, LogMaxFiles: cfg.ContainerLogMaxFiles,
		KubeVersion:          strings.TrimPrefix(version.KubeletVersion, "v"),
		Metrics:              podMetrics,
		ParallelPulls:        cfg.MaxParallelImagePulls,
		EvictionPeriod:       cfg.EvictionMonitoringPeriod.Duration,
		AllowedUnsafeSysctls: cfg.AllowedUnsafeSysctls,
		BackOff: lifecycle.BackOff{
			Initial: lifecycle.DefaultInitialBackOff,
			Max:     cfg.MaxContainerRestartPeriod.Duration,
			Reset:   lifecycle.DefaultBackOffReset,
		},
	})
	b.ready(rt, pods)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	podsDone := make(chan struct{})
	go func() { pods.Run(runCtx); close(podsDone) }()

	updates := make(chan manifest.Update)
	src := manifest.NewSource(manifest.SourceOptions{
		Dir: cfg.ManifestDir, NodeName: cfg.NodeName, Rescan: cfg.RescanPeriod.Duration,
		Clock: clk, Logger: log.Named("manifest"),
	})
	go src.Run(runCtx, updates)
	archives := imagedir.New(imagedir.Options{
		Dir: cfg.ImageArchives(), Clock: clk, Logger: log.Named("image-archives"),
		Import: func(ctx context.Context, path string) ([]runtime.Image, error) {
			return b.importFile(ctx, rt, path)
		},
	})
	go archives.Run(runCtx)
	// What a killed daemon left that no pod owns is collected once the
	// first sync made a worker for every wanted pod, then periodically.
	firstSync := make(chan struct{})
	go leftoverCollector(sandboxes, nw, rt, pods, clk, log.Named("leftovers")).Run(runCtx, firstSync, leftoverPeriod, leftoverTimeout)
	if cfg.ImageGCHighThresholdPercent < 100 {
		gc := imagegc.New(imagegc.Options{
			Runtime: rt, FSPath: imageFSPath(cfg, embedded),
			HighPercent: cfg.ImageGCHighThresholdPercent, LowPercent: cfg.ImageGCLowThresholdPercent,
			Period: cfg.ImageGCPeriod.Duration, Clock: clk, Logger: log.Named("image-gc"),
			InUse: func() map[string]bool {
				in := map[string]bool{}
				for ref := range b.users() {
					in[ref] = true
				}
				return in
			},
		})
		go gc.Run(runCtx)
	}

	log.Info("serving", zap.String("socket", cfg.Socket), zap.String("containerd", address))

	startingUp := true
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping; pods keep running")
			_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
			b.setWaiting("stopping")
			cancel()
			<-podsDone
			return nil
		case err := <-serveErr:
			if err != nil {
				return fmt.Errorf("API server: %w", err)
			}
		case u := <-updates:
			b.setManifestErr(cfg.ManifestDir, u.DirErr)
			if u.Listed {
				b.setFiles(u.Pods)
			}
			if apply(ctx, u, pods, store, cfg.NodeName, log) && firstSync != nil {
				close(firstSync)
				firstSync = nil
			}
			if startingUp {
				// The first update is the manifest directory's initial
				// scan, always sent: from here on the daemon only reacts,
				// so what starting up allocated is garbage now.
				startingUp = false
				releaseStartupMemory(log)
			}
		}
	}
}

// apply hands a manifest update to the pod manager and turns problems not
// reported before into Warning events. It reports whether the pod manager
// was synced (the directory was read).
func apply(ctx context.Context, u manifest.Update, pods *pod.Manager, store *status.Store, node string, log *zap.Logger) bool {
	desired := make([]*v1.Pod, 0, len(u.Pods))
	for _, p := range u.Pods {
		desired = append(desired, p.Pod)
	}
	// Before the first successful read of the directory the update holds
	// no pods and proves nothing: syncing it would terminate every pod
	// the runtime runs. The pods are left alone until the directory can
	// be read.
	if u.Listed {
		pods.Sync(ctx, desired)
	}
	// One event per file, however many problems it has (at most
	// manifest.MaxProblemsPerFile and a summary), so that a broken file
	// cannot push the pods' events out of the ring.
	for _, s := range manifest.Summarize(u.NewProblems) {
		for _, p := range s.Problems {
			log.Warn("rejected manifest", zap.String("file", p.File), zap.String("problem", p.Error()))
		}
		// A rejected document may have no usable name, so the event is
		// about the node; its message names the file and the reasons.
		store.Event(v1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: node}, v1.EventTypeWarning, "InvalidManifest", s.Message)
	}
	return u.Listed
}

// watchdog pings systemd's watchdog (WatchdogSec in the unit) at half its
// interval for as long as the daemon runs, so systemd restarts a daemon
// that died without exiting.
func watchdog(ctx context.Context, log *zap.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	log.Debug("pinging the systemd watchdog", zap.Duration("interval", interval/2))
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}

// hostIP is the node's primary address: the source address of the default
// route, else the first global unicast address.
func hostIP() string {
	if c, err := net.Dial("udp", "192.0.2.1:9"); err == nil {
		// A UDP "connection" sends nothing; it only picks a source address.
		defer c.Close()
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
			return a.IP.String()
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// backend adapts the daemon's parts to the API server. Until ready is
// called it answers from the store alone and /healthz says why not ready.
type backend struct {
	store        *status.Store
	sandboxImage string
	// maxImport caps an image archive (max-image-import-size).
	maxImport int64
	// imports holds the one import slot: imports from the socket and the
	// archive directory run one at a time.
	imports chan struct{}

	mu      sync.Mutex
	waiting string // why not serving; "" once ready
	rt      runtime.Runtime
	pods    *pod.Manager
	// manifestErr is why the manifest directory could not be read at the
	// last scan; nil when it was.
	manifestErr error
	// files maps "namespace/name" to the manifest file the pod came from.
	files map[string]string
}

// setFiles records which file each desired pod came from.
func (b *backend) setFiles(pods []manifest.Pod) {
	files := make(map[string]string, len(pods))
	for _, p := range pods {
		files[p.Key()] = p.File
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files = files
}

// ManifestFile returns the file pod namespace/name came from, or "".
func (b *backend) ManifestFile(namespace, name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.files[namespace+"/"+name]
}

// setManifestErr records the outcome of the last manifest directory scan.
func (b *backend) setManifestErr(dir string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("manifest directory %s: %w; running pods are kept, retrying at each rescan", dir, err)
	}
	b.manifestErr = err
}

func (b *backend) setWaiting(why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting = why
}

func (b *backend) ready(rt runtime.Runtime, pods *pod.Manager) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rt, b.pods, b.waiting = rt, pods, ""
}

func (b *backend) parts() (string, runtime.Runtime, *pod.Manager) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting, b.rt, b.pods
}

// runtimeHealthy is nil while containerd answers.
func (b *backend) runtimeHealthy() error {
	_, rt, _ := b.parts()
	if rt == nil {
		return errors.New("not connected to containerd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return rt.Healthy(ctx)
}

func (b *backend) Healthy() error {
	if why, _, _ := b.parts(); why != "" {
		return fmt.Errorf("not ready: %s", why)
	}
	if err := b.runtimeHealthy(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.manifestErr
}

func (b *backend) ListPods() []v1.Pod                     { return b.store.ListPods() }
func (b *backend) GetPod(ns, name string) (*v1.Pod, bool) { return b.store.GetPod(ns, name) }
func (b *backend) Events(ns, name string) []v1.Event      { return b.store.Events(ns, name) }

func (b *backend) ContainerLog(ns, podName, container string, previous bool) (string, func() bool, error) {
	why, _, pods := b.parts()
	if pods == nil {
		return "", nil, fmt.Errorf("not ready: %s: %w", why, api.ErrBadRequest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path, exited, err := pods.ContainerLog(ctx, ns, podName, container, previous)
	switch {
	case errors.Is(err, pod.ErrNotFound):
		return "", nil, fmt.Errorf("%s: %w", err.Error(), api.ErrNotFound)
	case errors.Is(err, pod.ErrWaiting):
		// The kubelet answers 400 for a container that has not run yet.
		return "", nil, fmt.Errorf("%s: %w", err.Error(), api.ErrBadRequest)
	}
	if previous {
		exited = func() bool { return true }
	}
	return path, exited, err
}

// loggerExe is the program the shim runs as each container's log writer:
// the small minikubelet-logger next to the daemon when it is there (a few
// MB per container), else the daemon's own binary, which can do the same.
func loggerExe(exe string, log *zap.Logger) string {
	small := filepath.Join(filepath.Dir(exe), "minikubelet-logger")
	if fi, err := os.Stat(small); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return small
	}
	log.Info("no minikubelet-logger next to the daemon; containers' logs are written by the daemon's own binary", zap.String("looked", small))
	return exe
}

// imageFSPath is a path on the filesystem holding containerd's images:
// the configured one, the embedded containerd's root, or containerd's
// default root when it exists.
func imageFSPath(cfg config.Config, e *embedded) string {
	switch {
	case cfg.ImageFSPath != "":
		return cfg.ImageFSPath
	case e != nil:
		return filepath.Join(e.dir, "root")
	}
	if _, err := os.Stat("/var/lib/containerd"); err == nil {
		return "/var/lib/containerd"
	}
	return cfg.StateDir
}

// connectContainerd returns the containerd address to use, starting the
// embedded containerd when planContainerd says so, and otherwise waiting
// (with /healthz saying why) until the chosen containerd answers. The
// address used is recorded, so that a later start picks the same one.
func connectContainerd(ctx context.Context, cfg config.Config, b *backend, log *zap.Logger) (address, runcRoot string, e *embedded, err error) {
	embeddedAddr := embeddedAddress(cfg.StateDir)
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		owner, err := readOwner(cfg.StateDir)
		if err != nil {
			return "", "", nil, err
		}
		plan := planContainerd(containerdFacts{
			configured: cfg.ContainerdAddress, embeddedAddr: embeddedAddr,
			answers: answers(cfg.ContainerdAddress), socketExists: exists(cfg.ContainerdAddress),
			mayEmbed: cfg.EmbeddedContainerd && hasContainerd(),
			owner:    owner, embeddedUsed: exists(filepath.Join(cfg.StateDir, "containerd", "root")),
			hadPods: hasEntries(filepath.Join(cfg.StateDir, "pods")),
		})
		if plan.warn != "" {
			log.Warn(plan.warn)
		}
		switch {
		case plan.embedded:
			log.Info("starting (or reusing) the embedded containerd under the state dir", zap.String("configuredAddress", cfg.ContainerdAddress))
			e, err := startEmbedded(ctx, cfg.StateDir, log)
			if err != nil {
				return "", "", nil, err
			}
			runcRoot = cfg.RuncRoot
			if runcRoot == "" {
				// Keep runc's state apart from a system containerd that
				// might use the same namespace name.
				runcRoot = filepath.Join(cfg.StateDir, "runc")
			}
			recordOwner(cfg.StateDir, e.address, log)
			return e.address, runcRoot, e, nil
		case plan.wait == "":
			recordOwner(cfg.StateDir, cfg.ContainerdAddress, log)
			return cfg.ContainerdAddress, cfg.RuncRoot, nil, nil
		}
		b.setWaiting(plan.wait)
		log.Warn("waiting for containerd", zap.String("reason", plan.wait), zap.Duration("retryIn", delay))
		select {
		case <-ctx.Done():
			return "", "", nil, nil
		case <-time.After(delay):
		}
	}
}

// recordOwner writes the owner record; failing to is only worth a warning
// (the next start then decides from what it finds).
func recordOwner(stateDir, address string, log *zap.Logger) {
	if err := writeOwner(stateDir, address); err != nil {
		log.Warn("cannot record which containerd holds the pods", zap.Error(err))
	}
}

// podNetwork loads the CNI network pods attach to, or says once why pods
// get a loopback-only network and returns nil.
func podNetwork(cfg config.Config, log *zap.Logger) *cni.Network {
	nw, err := cni.New(cni.Options{
		BinDirs:  filepath.SplitList(cfg.CNIBinDir),
		ConfDir:  cfg.CNIConfDir,
		StateDir: filepath.Join(cfg.StateDir, "cni"),
		PodCIDR:  cfg.PodCIDR,
		Logger:   log,
	})
	switch {
	case errors.Is(err, cni.ErrNoPlugins):
		log.Warn("no cni plugins installed: pods get a loopback-only network", zap.Error(err))
		return nil
	case err != nil:
		log.Error("cni network unusable: pods get a loopback-only network", zap.Error(err))
		return nil
	}
	log.Info("pod network", zap.String("network", nw.Name()), zap.String("config", nw.Source))
	return nw
}
