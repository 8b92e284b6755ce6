package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// stallingRegistry is a registry on loopback that stops sending: it
// answers /v2/ and a manifest for any image, then sends the first bytes of
// each blob and nothing more until the client goes away. Its blobs are
// random, so no content store has them already.
type stallingRegistry struct {
	host     string
	manifest []byte
	digest   string
	blobs    map[string][]byte
	// started gets a blob request's path as it stalls; gone when its
	// client went away.
	started chan string
	gone    chan string
}

func startStallingRegistry(t *testing.T) *stallingRegistry {
	t.Helper()
	random := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	digestOf := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	layer := []byte(strings.Repeat(random(), 1<<14)) // 512 KiB
	config, _ := json.Marshal(map[string]any{
		"architecture": goruntime.GOARCH, "os": "linux", "comment": random(),
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digestOf(layer)}},
		"config": map[string]any{"Cmd": []string{"true"}},
	})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digestOf(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digestOf(layer), "size": len(layer)}},
	})
	r := &stallingRegistry{
		manifest: manifest, digest: digestOf(manifest),
		blobs:   map[string][]byte{digestOf(config): config, digestOf(layer): layer},
		started: make(chan string, 16), gone: make(chan string, 16),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.host = l.Addr().String()
	stop := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(r.serve(stop))}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	return r
}

func (r *stallingRegistry) serve(stop <-chan struct{}) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		switch p := req.URL.Path; {
		case p == "/v2/" || p == "/v2":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(p, "/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", r.digest)
			w.Header().Set("Content-Length", fmt.Sprint(len(r.manifest)))
			if req.Method != http.MethodHead {
				_, _ = w.Write(r.manifest)
			}
		case strings.Contains(p, "/blobs/"):
			blob, ok := r.blobs[p[strings.LastIndex(p, "/")+1:]]
			if !ok {
				http.NotFound(w, req)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(blob[:10])
			w.(http.Flusher).Flush()
			r.started <- p
			select {
			case <-req.Context().Done():
				r.gone <- p
			case <-stop:
			}
		default:
			http.NotFound(w, req)
		}
	}
}

// hostsDir is a registry config dir (containerd's hosts.toml layout) that
// makes the daemon talk plain HTTP to r.
func (r *stallingRegistry) hostsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, r.host), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := fmt.Sprintf("server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", r.host, r.host)
	if err := os.WriteFile(filepath.Join(dir, r.host, "hosts.toml"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// imagePod is a one-container pod that sleeps in image, pulled as policy
// says.
func imagePod(name, image string, policy v1.PullPolicy) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    imagePullPolicy: %s
    command: ["sleep", "3600"]
`, name, image, policy)
}

// waitStalled waits until the registry holds a blob request.
func waitStalled(t *testing.T, r *stallingRegistry, within time.Duration) time.Time {
	t.Helper()
	select {
	case <-r.started:
		return time.Now()
	case <-time.After(within):
		t.Fatalf("no blob request reached the stalling registry within %s", within)
	}
	return time.Time{}
}

// waitClientGone waits until a stalled blob request's client hung up: the
// cancel reached the connection.
func waitClientGone(t *testing.T, r *stallingRegistry, within time.Duration) {
	t.Helper()
	select {
	case <-r.gone:
	case <-time.After(within):
		t.Fatalf("the stalled blob request was not cancelled within %s", within)
	}
}

// TestImagePullProgressDeadline: a registry that stops sending a blob
// fails the pull after --image-pull-progress-deadline with ErrImagePull
// naming the image and the deadline, and the one pull slot is free again
// for the next pod's pull.
func TestImagePullProgressDeadline(t *testing.T) {
	t.Parallel()
	e := requireEnv(t)
	r := startStallingRegistry(t)
	d := startDaemon(t, "--registry-config-dir", r.hostsDir(t), "--image-pull-progress-deadline", "3s", "--max-parallel-image-pulls", "1")
	image := r.host + "/stall/app:1"
	d.writeManifest("stalled.yaml", imagePod("stalled", image, v1.PullAlways))
	stalled := waitStalled(t, r, 60*time.Second)
	// Waits for the slot the stalled pull holds.
	d.writeManifest("next.yaml", imagePod("next", e.registry.host+"/busybox:latest", v1.PullAlways))

	seen := map[string]bool{}
	d.waitPod("default", "stalled", 30*time.Second, func(p *v1.Pod) (bool, string) {
		if len(p.Status.ContainerStatuses) > 0 {
			if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil {
				seen[w.Reason] = true
			}
		}
		return seen["ErrImagePull"], summary(p)
	})
	took := time.Since(stalled)
	evs := podEvents(t, d, "default", "stalled")
	if findEvent(evs, v1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q", image), "nothing received from the registry for 3s (image-pull-progress-deadline)") == nil {
		t.Fatalf("no Failed event naming the image and the deadline:%s", eventList(evs))
	}
	// The deadline counts from the last byte: not before 3 s, and not
	// much after (the watchdog looks every 300 ms).
	if took < 3*time.Second || took > 20*time.Second {
		t.Errorf("ErrImagePull %s after the stall, want about 3s", took.Round(time.Millisecond))
	}
	waitClientGone(t, r, 10*time.Second)
	d.waitRunning("default", "next")
}

// TestRemovedPodCancelsStalledPull: with the default deadline (a minute),
// a pod removed while its pull stalls goes at once, and so does a pod
// waiting for the pull slot behind it.
func TestRemovedPodCancelsStalledPull(t *testing.T) {
	t.Parallel()
	e := requireEnv(t)
	r := startStallingRegistry(t)
	d := startDaemon(t, "--registry-config-dir", r.hostsDir(t), "--max-parallel-image-pulls", "1")
	d.writeManifest("stalled.yaml", imagePod("stalled", r.host+"/stall/app:1", v1.PullAlways))
	waitStalled(t, r, 60*time.Second)
	d.writeManifest("waiter.yaml", imagePod("waiter", e.registry.host+"/busybox:latest", v1.PullAlways))
	d.waitPod("default", "waiter", 30*time.Second, func(p *v1.Pod) (bool, string) {
		return p.Status.Phase == v1.PodPending, summary(p)
	})

	start := time.Now()
	d.removeManifest("waiter.yaml")
	d.waitGone("default", "waiter", 15*time.Second)
	d.removeManifest("stalled.yaml")
	d.waitGone("default", "stalled", 15*time.Second)
	waitClientGone(t, r, 5*time.Second)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("both pods took %s to go, want well under the minute's deadline", took.Round(time.Millisecond))
	}
	evs := podEvents(t, d, "default", "stalled")
	if ev := findEvent(evs, v1.EventTypeWarning, "Failed", "Failed to pull image"); ev != nil {
		t.Errorf("the removal's cancel was reported as a failed pull: %q", ev.Message)
	}
}
