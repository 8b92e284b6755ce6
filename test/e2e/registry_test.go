package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// registry is a docker-registry (distribution) listening on loopback with
// its storage under dir: it lets pods use imagePullPolicy: Always, which
// needs a registry, with no network. containerd talks plain HTTP to it
// because it is on a loopback address.
type registry struct {
	// host is "127.0.0.1:PORT", the prefix of image references.
	host    string
	logPath string
	cmd     *exec.Cmd
	exited  chan error
}

// registryPort is the conventional local registry port; another is used
// when something else holds it (a docker-registry installed as a service).
const registryPort = 5000

const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`

func startRegistry(dir string) (*registry, error) {
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return nil, err
	}
	host, err := loopbackAddr(registryPort)
	if err != nil {
		return nil, err
	}
	r := &registry{host: host, logPath: filepath.Join(dir, "registry.log")}
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(fmt.Sprintf(registryConfig, filepath.Join(dir, "storage"), host)), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r.cmd = exec.Command("docker-registry", "serve", configPath)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start docker-registry: %w", err)
	}
	r.exited = make(chan error, 1)
	go func() { r.exited <- r.cmd.Wait() }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		select {
		case werr := <-r.exited:
			r.exited <- werr
			return nil, fmt.Errorf("docker-registry exited at start: %v\n%s", werr, tailFile(r.logPath, 20))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("docker-registry not answering at %s: %v\n%s", host, err, tailFile(r.logPath, 20))
		}
	}
}

// loopbackAddr returns 127.0.0.1:port when it is free, else a free port.
func loopbackAddr(port int) (string, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

// push copies an OCI archive into the registry as name ("busybox:latest").
func (r *registry) push(archive, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// --insecure-policy: no /etc/containers/policy.json is needed for a
	// copy between two local places.
	cmd := exec.CommandContext(ctx, "skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
		"oci-archive:"+archive, "docker://"+r.host+"/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("skopeo copy %s to %s/%s: %w\n%s", archive, r.host, name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (r *registry) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}
