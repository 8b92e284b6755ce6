package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, file string, args ...string) (Config, error) {
	t.Helper()
	c := Default()
	var path string
	fs := pflag.NewFlagSet("daemon", pflag.ContinueOnError)
	Flags(fs, &c, &path)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if file != "" && path == "" {
		p := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(p, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		path = p
	}
	err := Load(fs, &c, path)
	return c, err
}

func TestFileUnderFlags(t *testing.T) {
	c, err := load(t, "manifest-dir: /m\nsocket: /file.sock\nrescan-period: 5s\n", "--socket", "/flag.sock")
	if err != nil {
		t.Fatal(err)
	}
	if c.ManifestDir != "/m" || c.Socket != "/flag.sock" || c.RescanPeriod.Duration != 5*time.Second {
		t.Fatalf("got %+v", c)
	}
	if c.StateDir != "/var/lib/minikubelet" || c.ContainerdNamespace != "minikubelet" {
		t.Fatalf("defaults lost: %+v", c)
	}
}

func TestStrictAndValidation(t *testing.T) {
	tests := []struct{ file, want string }{
		{"manifest-dirr: /m\n", `unknown field "manifest-dirr"`},
		{"containerd-namespace: k8s.io\n", "containerd-namespace: k8s.io belongs to containerd's CRI plugin"},
		{"log-format: xml\n", `log-format: "xml"`},
		{"container-log-max-size: lots\n", "container-log-max-size"},
		{"rescan-period: 10ms\n", "rescan-period"},
		{"pod-max-pids: -2\n", "pod-max-pids: -2 is under -1"},
		{"eviction-monitoring-period: 100ms\n", "eviction-monitoring-period: 100ms is shorter than 1s"},
		{"max-image-import-size: huge\n", `max-image-import-size: "huge"`},
		{"max-image-import-size: 1Ki\n", `max-image-import-size: "1Ki" is under 1Mi`},
		{"max-log-followers: 0\n", "max-log-followers: 0 is under 1"},
		{"image-pull-progress-deadline: 100ms\n", "image-pull-progress-deadline: 100ms is under 1s (0: no deadline)"},
		{"image-pull-progress-deadline: -1s\n", "image-pull-progress-deadline: -1s is under 1s"},
	}
	for _, tt := range tests {
		_, err := load(t, tt.file)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.file, err, tt.want)
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("../../configs/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, string(data)); err != nil {
		t.Fatalf("configs/config.yaml: %v", err)
	}
}

func TestLimitsKeys(t *testing.T) {
	c, err := load(t, "pod-max-pids: 100\n", "--eviction-monitoring-period", "3s")
	if err != nil {
		t.Fatal(err)
	}
	if c.PodMaxPids != 100 || c.EvictionMonitoringPeriod.Duration != 3*time.Second {
		t.Fatalf("pod-max-pids %d, eviction-monitoring-period %s", c.PodMaxPids, c.EvictionMonitoringPeriod.Duration)
	}
	if d := Default(); d.PodMaxPids != -1 || d.EvictionMonitoringPeriod.Duration != 10*time.Second {
		t.Fatalf("defaults: pod-max-pids %d, eviction-monitoring-period %s", d.PodMaxPids, d.EvictionMonitoringPeriod.Duration)
	}
}

// TestRelativePathsMadeAbsolute: every path is resolved against the
// working directory at start-up (a relative --containerd-address used to
// reach gRPC as an invalid authority, retried forever).
func TestRelativePathsMadeAbsolute(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"", "state-dir: st\n"} {
		c, err := load(t, file, "--containerd-address", "ctd/containerd.sock", "--manifest-dir", "m", "--socket", "./api.sock",
			"--cni-bin-dir", "cni/bin:/usr/lib/cni", "--runc-root", "/run/r")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"containerd-address": filepath.Join(wd, "ctd/containerd.sock"),
			"manifest-dir":       filepath.Join(wd, "m"),
			"socket":             filepath.Join(wd, "api.sock"),
			"cni-bin-dir":        filepath.Join(wd, "cni/bin") + ":/usr/lib/cni",
			"runc-root":          "/run/r",
		}
		got := map[string]string{
			"containerd-address": c.ContainerdAddress, "manifest-dir": c.ManifestDir, "socket": c.Socket,
			"cni-bin-dir": c.CNIBinDir, "runc-root": c.RuncRoot,
		}
		if file != "" {
			want["state-dir"], got["state-dir"] = filepath.Join(wd, "st"), c.StateDir
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("config %q: %s = %q, want %q", file, k, got[k], w)
			}
		}
	}
}

func TestImagePullProgressDeadline(t *testing.T) {
	if d := Default().ImagePullProgressDeadline.Duration; d != time.Minute {
		t.Fatalf("default image-pull-progress-deadline %s, want 1m (the kubelet's)", d)
	}
	for _, tt := range []struct {
		file string
		args []string
		want time.Duration
	}{
		{"image-pull-progress-deadline: 0s\n", nil, 0},
		{"image-pull-progress-deadline: 5m\n", nil, 5 * time.Minute},
		{"image-pull-progress-deadline: 5m\n", []string{"--image-pull-progress-deadline", "3s"}, 3 * time.Second},
	} {
		c, err := load(t, tt.file, tt.args...)
		if err != nil || c.ImagePullProgressDeadline.Duration != tt.want {
			t.Errorf("%q %v: deadline %s, err %v; want %s", tt.file, tt.args, c.ImagePullProgressDeadline.Duration, err, tt.want)
		}
	}
}
