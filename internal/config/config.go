// Package config owns the daemon's configuration: defaults, the YAML file
// (strict: an unknown key is an error naming it) and command-line flags,
// with flags set on the command line winning over the file.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/minikubelet/minikubelet/internal/version"
)

// DefaultConfigFile is read when --config is not given and the file exists.
const DefaultConfigFile = "/etc/minikubelet/config.yaml"

// Config is the daemon's configuration. Every field is also a flag of the
// same name.
type Config struct {
	ManifestDir string `json:"manifest-dir"`
	StateDir    string `json:"state-dir"`
	Socket      string `json:"socket"`
	SocketGroup string `json:"socket-group"`
	// KubeAPIAddress is host:port of the Kubernetes API's TLS listener;
	// "" disables it.
	KubeAPIAddress       string          `json:"kube-api-address"`
	ContainerdAddress    string          `json:"containerd-address"`
	ContainerdNamespace  string          `json:"containerd-namespace"`
	Snapshotter          string          `json:"snapshotter"`
	RuncRoot             string          `json:"runc-root"`
	NodeName             string          `json:"node-name"`
	SandboxImage         string          `json:"sandbox-image"`
	LogFormat            string          `json:"log-format"`
	LogLevel             string          `json:"log-level"`
	RescanPeriod         metav1.Duration `json:"rescan-period"`
	ContainerLogMaxSize  string          `json:"container-log-max-size"`
	ContainerLogMaxFiles int             `json:"container-log-max-files"`
	EmbeddedContainerd   bool            `json:"embedded-containerd"`
	// ImageArchiveDir holds image archives imported at startup and when
	// they appear; empty means <state-dir>/images.
	ImageArchiveDir string `json:"image-archive-dir"`
	// Image garbage collection, as the kubelet's: past the high threshold
	// of the image filesystem's usage, unused images go, least recently
	// used first, until usage is under the low one.
	ImageGCHighThresholdPercent int             `json:"image-gc-high-threshold-percent"`
	ImageGCLowThresholdPercent  int             `json:"image-gc-low-threshold-percent"`
	ImageGCPeriod               metav1.Duration `json:"image-gc-period"`
	// ImageFSPath is on the filesystem holding containerd's images; empty
	// means containerd's root (the embedded one's, or /var/lib/containerd).
	ImageFSPath string `json:"image-fs-path"`
	// RegistryConfigDir holds hosts.toml files in containerd's layout
	// (mirrors, plain HTTP, CAs, client certificates, skip_verify).
	RegistryConfigDir string `json:"registry-config-dir"`
	// RegistryCredentials is a Docker config.json with registry logins.
	RegistryCredentials string `json:"registry-credentials"`
	// AllowedUnsafeSysctls may be set by pods besides the safe ones (an
	// entry ending in "*" is a prefix); others fail the pod with
	// SysctlForbidden.
	AllowedUnsafeSysctls []string `json:"allowed-unsafe-sysctls"`
	// MaxParallelImagePulls: 1 pulls one image at a time, as the kubelet's
	// serializeImagePulls default does.
	MaxParallelImagePulls int `json:"max-parallel-image-pulls"`
	// ImagePullProgressDeadline cancels a pull that received nothing from
	// the registry for this long, as the kubelet's
	// --image-pull-progress-deadline; 0: no deadline.
	ImagePullProgressDeadline metav1.Duration `json:"image-pull-progress-deadline"`
	// MaxContainerRestartPeriod caps the crash-loop back-off, like the
	// kubelet's crashLoopBackOff.maxContainerRestartPeriod.
	MaxContainerRestartPeriod metav1.Duration `json:"max-container-restart-period"`
	// CNI networking (issue 7): plugin directories (colon-separated), the
	// operator's network configurations, and the default network's subnet
	// used when that directory holds none.
	CNIBinDir  string `json:"cni-bin-dir"`
	CNIConfDir string `json:"cni-conf-dir"`
	PodCIDR    string `json:"pod-cidr"`
	// PodMaxPids caps the processes and threads of each pod (pids.max of
	// its cgroup), as the kubelet's --pod-max-pids; -1: no cap.
	PodMaxPids int64 `json:"pod-max-pids"`
	// EvictionMonitoringPeriod is how often pods' local storage (emptyDir
	// sizeLimit, ephemeral-storage limits) is measured, as the kubelet's
	// eviction manager does every 10 s.
	EvictionMonitoringPeriod metav1.Duration `json:"eviction-monitoring-period"`
	// MaxImageImportSize caps one image archive (socket or archive
	// directory): its bytes, its bytes decompressed, and the sizes of its
	// files added up.
	MaxImageImportSize string `json:"max-image-import-size"`
	// MaxLogFollowers caps the log follows (logs -f) served at once.
	MaxLogFollowers int `json:"max-log-followers"`
}

// Default returns the built-in configuration.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		ManifestDir:                 "/etc/minikubelet/manifests",
		StateDir:                    "/var/lib/minikubelet",
		Socket:                      "/run/minikubelet/minikubelet.sock",
		KubeAPIAddress:              "127.0.0.1:10443",
		ContainerdAddress:           "/run/containerd/containerd.sock",
		ContainerdNamespace:         "minikubelet",
		Snapshotter:                 "overlayfs",
		NodeName:                    host,
		SandboxImage:                "localhost/minikubelet/pause:" + version.ImageTag(),
		LogFormat:                   "json",
		LogLevel:                    "info",
		RescanPeriod:                metav1.Duration{Duration: 20 * time.Second},
		ContainerLogMaxSize:         "10Mi",
		ContainerLogMaxFiles:        5,
		EmbeddedContainerd:          true,
		MaxContainerRestartPeriod:   metav1.Duration{Duration: 300 * time.Second},
		RegistryConfigDir:           "/etc/containerd/certs.d",
		RegistryCredentials:         "/root/.docker/config.json",
		MaxParallelImagePulls:       1,
		ImagePullProgressDeadline:   metav1.Duration{Duration: time.Minute},
		ImageGCHighThresholdPercent: 85,
		ImageGCLowThresholdPercent:  80,
		ImageGCPeriod:               metav1.Duration{Duration: 5 * time.Minute},
		CNIBinDir:                   "/opt/cni/bin:/usr/lib/cni",
		CNIConfDir:                  "/etc/cni/net.d",
		PodCIDR:                     "10.217.0.0/16",
		PodMaxPids:                  -1,
		EvictionMonitoringPeriod:    metav1.Duration{Duration: 10 * time.Second},
		MaxImageImportSize:          "4Gi",
		MaxLogFollowers:             100,
	}
}

// durationValue adapts metav1.Duration to pflag.
type durationValue struct{ d *metav1.Duration }

func (v durationValue) String() string { return v.d.Duration.String() }
func (v durationValue) Type() string   { return "duration" }
func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	v.d.Duration = d
	return nil
}

// Flags binds every config key to a flag on fs, writing into c.
func Flags(fs *pflag.FlagSet, c *Config, configFile *string) {
	fs.StringVar(configFile, "config", "", "YAML config file (default "+DefaultConfigFile+" if it exists); flags given on the command line win")
	fs.StringVar(&c.ManifestDir, "manifest-dir", c.ManifestDir, "directory of Pod manifests to run")
	fs.StringVar(&c.StateDir, "state-dir", c.StateDir, "directory for pod files, logs and the embedded containerd")
	fs.StringVar(&c.Socket, "socket", c.Socket, "unix socket the API listens on")
	fs.StringVar(&c.KubeAPIAddress, "kube-api-address", c.KubeAPIAddress, "host:port of the Kubernetes API (TLS, node CA client certificates); empty disables it")
	fs.StringVar(&c.SocketGroup, "socket-group", c.SocketGroup, "group allowed to use the socket (default: root only)")
	fs.StringVar(&c.ContainerdAddress, "containerd-address", c.ContainerdAddress, "containerd's socket")
	fs.StringVar(&c.ContainerdNamespace, "containerd-namespace", c.ContainerdNamespace, "containerd namespace for the daemon's objects (never k8s.io)")
	fs.StringVar(&c.Snapshotter, "snapshotter", c.Snapshotter, "containerd snapshotter for container filesystems")
	fs.StringVar(&c.RuncRoot, "runc-root", c.RuncRoot, "runc state directory (default: the shim's, or <state-dir>/runc with the embedded containerd)")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "node name in pods and events")
	fs.StringVar(&c.SandboxImage, "sandbox-image", c.SandboxImage, "pause image; built from the bundled pause binary when missing")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error")
	fs.Var(durationValue{&c.RescanPeriod}, "rescan-period", "how often the manifest directory is rescanned in full")
	fs.StringVar(&c.ContainerLogMaxSize, "container-log-max-size", c.ContainerLogMaxSize, "size at which a container log file is rotated")
	fs.IntVar(&c.ContainerLogMaxFiles, "container-log-max-files", c.ContainerLogMaxFiles, "log files kept per container attempt, the current one included")
	fs.StringVar(&c.ImageArchiveDir, "image-archive-dir", c.ImageArchiveDir, "directory of image archives (*.tar, *.tar.gz, *.tar.zst) to import, for nodes without a registry (default <state-dir>/images)")
	fs.StringVar(&c.RegistryConfigDir, "registry-config-dir", c.RegistryConfigDir, "registry settings in containerd's hosts.toml layout (<dir>/<host>/hosts.toml)")
	fs.StringVar(&c.RegistryCredentials, "registry-credentials", c.RegistryCredentials, "Docker config.json holding registry logins (read at each pull)")
	fs.StringSliceVar(&c.AllowedUnsafeSysctls, "allowed-unsafe-sysctls", c.AllowedUnsafeSysctls, "sysctls pods may set besides the safe ones (comma-separated; a trailing * is a prefix)")
	fs.IntVar(&c.MaxParallelImagePulls, "max-parallel-image-pulls", c.MaxParallelImagePulls, "image pulls at once (1: one at a time)")
	fs.Var(durationValue{&c.ImagePullProgressDeadline}, "image-pull-progress-deadline", "cancel an image pull that received nothing from the registry for this long (0: never)")
	fs.IntVar(&c.ImageGCHighThresholdPercent, "image-gc-high-threshold-percent", c.ImageGCHighThresholdPercent, "image filesystem usage (%) above which unused images are removed; 100 disables image GC")
	fs.IntVar(&c.ImageGCLowThresholdPercent, "image-gc-low-threshold-percent", c.ImageGCLowThresholdPercent, "image filesystem usage (%) image GC brings usage down to")
	fs.Var(durationValue{&c.ImageGCPeriod}, "image-gc-period", "how often image filesystem usage is checked")
	fs.StringVar(&c.ImageFSPath, "image-fs-path", c.ImageFSPath, "a path on the image filesystem (default: containerd's root)")
	fs.Var(durationValue{&c.MaxContainerRestartPeriod}, "max-container-restart-period", "longest crash-loop back-off between restarts of a failing container")
	fs.StringVar(&c.CNIBinDir, "cni-bin-dir", c.CNIBinDir, "directories (colon-separated) searched for CNI plugins")
	fs.StringVar(&c.CNIConfDir, "cni-conf-dir", c.CNIConfDir, "directory whose first CNI network configuration pods use (default network under <state-dir>/cni when it has none)")
	fs.StringVar(&c.PodCIDR, "pod-cidr", c.PodCIDR, "subnet of the default pod network")
	fs.Int64Var(&c.PodMaxPids, "pod-max-pids", c.PodMaxPids, "most processes and threads a pod may have (pids.max of its cgroup); -1: no cap")
	fs.Var(durationValue{&c.EvictionMonitoringPeriod}, "eviction-monitoring-period", "how often pods' emptyDir and ephemeral-storage usage is measured against their limits")
	fs.StringVar(&c.MaxImageImportSize, "max-image-import-size", c.MaxImageImportSize, "largest image archive imported (as sent, decompressed, and its files added up)")
	fs.IntVar(&c.MaxLogFollowers, "max-log-followers", c.MaxLogFollowers, "log follows (logs -f) served at once; more get 429")
	fs.BoolVar(&c.EmbeddedContainerd, "embedded-containerd", c.EmbeddedContainerd, "start a containerd of our own when none answers at --containerd-address")
}

// Load applies the config file (explicit path, or the default one if it
// exists) under the flags the user set: c holds the parsed flags on entry
// and the final configuration on return.
func Load(fs *pflag.FlagSet, c *Config, configFile string) error {
	path := configFile
	if path == "" {
		if _, err := os.Stat(DefaultConfigFile); err != nil {
			return errors.Join(c.Validate(), c.absPaths())
		}
		path = DefaultConfigFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	changed := map[string]string{}
	fs.Visit(func(f *pflag.Flag) { changed[f.Name] = f.Value.String() })
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for name, v := range changed {
		if name == "config" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("flag --%s: %w", name, err)
		}
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return c.absPaths()
}

// absPaths makes every path of the configuration absolute, against the
// working directory at start-up. A relative containerd address, say,
// would otherwise reach gRPC as an invalid authority and be retried
// forever, and a relative state dir would move with the process's cwd.
func (c *Config) absPaths() error {
	var errs []error
	abs := func(p *string) {
		if *p == "" || filepath.IsAbs(*p) {
			return
		}
		a, err := filepath.Abs(*p)
		if err != nil {
			errs = append(errs, fmt.Errorf("make %q absolute: %w", *p, err))
			return
		}
		*p = a
	}
	for _, p := range []*string{
		&c.ManifestDir, &c.StateDir, &c.Socket, &c.ContainerdAddress, &c.RuncRoot,
		&c.ImageArchiveDir, &c.ImageFSPath, &c.RegistryConfigDir, &c.RegistryCredentials, &c.CNIConfDir,
	} {
		abs(p)
	}
	dirs := filepath.SplitList(c.CNIBinDir)
	for i := range dirs {
		abs(&dirs[i])
	}
	c.CNIBinDir = strings.Join(dirs, string(filepath.ListSeparator))
	return errors.Join(errs...)
}

// Validate checks values that would otherwise fail late.
func (c *Config) Validate() error {
	var errs []error
	req := map[string]string{
		"manifest-dir": c.ManifestDir, "state-dir": c.StateDir, "socket": c.Socket,
		"containerd-address": c.ContainerdAddress, "containerd-namespace": c.ContainerdNamespace,
		"node-name": c.NodeName, "sandbox-image": c.SandboxImage,
	}
	for _, k := range []string{"manifest-dir", "state-dir", "socket", "containerd-address", "containerd-namespace", "node-name", "sandbox-image"} {
		if req[k] == "" {
			errs = append(errs, fmt.Errorf("%s: must not be empty", k))
		}
	}
	if c.ContainerdNamespace == "k8s.io" {
		errs = append(errs, errors.New("containerd-namespace: k8s.io belongs to containerd's CRI plugin; use another"))
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		errs = append(errs, fmt.Errorf("log-format: %q is not json or console", c.LogFormat))
	}
	if c.RescanPeriod.Duration < time.Second {
		errs = append(errs, fmt.Errorf("rescan-period: %s is shorter than 1s", c.RescanPeriod.Duration))
	}
	if d := c.MaxContainerRestartPeriod.Duration; d < time.Second || d > 300*time.Second {
		errs = append(errs, fmt.Errorf("max-container-restart-period: %s is outside 1s..300s", d))
	}
	if h, l := c.ImageGCHighThresholdPercent, c.ImageGCLowThresholdPercent; h < 0 || h > 100 || l < 0 || l >= h && h != 100 {
		errs = append(errs, fmt.Errorf("image-gc-low-threshold-percent (%d) must be under image-gc-high-threshold-percent (%d), both 0..100", l, h))
	}
	if c.MaxParallelImagePulls < 1 {
		errs = append(errs, fmt.Errorf("max-parallel-image-pulls: %d is under 1", c.MaxParallelImagePulls))
	}
	if d := c.ImagePullProgressDeadline.Duration; d != 0 && d < time.Second {
		errs = append(errs, fmt.Errorf("image-pull-progress-deadline: %s is under 1s (0: no deadline)", d))
	}
	if c.ImageGCPeriod.Duration < time.Second {
		errs = append(errs, fmt.Errorf("image-gc-period: %s is shorter than 1s", c.ImageGCPeriod.Duration))
	}
	if _, err := c.LogMaxSize(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.ParseCIDR(c.PodCIDR); err != nil {
		errs = append(errs, fmt.Errorf("pod-cidr: %q is not a CIDR", c.PodCIDR))
	}
	if c.PodMaxPids < -1 {
		errs = append(errs, fmt.Errorf("pod-max-pids: %d is under -1 (-1: no cap)", c.PodMaxPids))
	}
	if c.EvictionMonitoringPeriod.Duration < time.Second {
		errs = append(errs, fmt.Errorf("eviction-monitoring-period: %s is shorter than 1s", c.EvictionMonitoringPeriod.Duration))
	}
	if c.ContainerLogMaxFiles < 1 {
		errs = append(errs, errors.New("container-log-max-files: must be at least 1"))
	}
	if _, err := c.ImageImportMaxSize(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxLogFollowers < 1 {
		errs = append(errs, fmt.Errorf("max-log-followers: %d is under 1", c.MaxLogFollowers))
	}
	return errors.Join(errs...)
}

// LogMaxSize parses container-log-max-size.
func (c *Config) LogMaxSize() (int64, error) {
	q, err := resource.ParseQuantity(c.ContainerLogMaxSize)
	if err != nil {
		return 0, fmt.Errorf("container-log-max-size: %q: %w", c.ContainerLogMaxSize, err)
	}
	if q.Value() < 1024 {
		return 0, fmt.Errorf("container-log-max-size: %q is under 1Ki", c.ContainerLogMaxSize)
	}
	return q.Value(), nil
}

// ImageImportMaxSize parses max-image-import-size.
func (c *Config) ImageImportMaxSize() (int64, error) {
	q, err := resource.ParseQuantity(c.MaxImageImportSize)
	if err != nil {
		return 0, fmt.Errorf("max-image-import-size: %q: %w", c.MaxImageImportSize, err)
	}
	if q.Value() < 1<<20 {
		return 0, fmt.Errorf("max-image-import-size: %q is under 1Mi", c.MaxImageImportSize)
	}
	return q.Value(), nil
}

// ImageArchives is the image archive directory in force.
func (c *Config) ImageArchives() string {
	if c.ImageArchiveDir != "" {
		return c.ImageArchiveDir
	}
	return filepath.Join(c.StateDir, "images")
}
