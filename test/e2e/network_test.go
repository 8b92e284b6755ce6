package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// The network tests run pods on a bridge and subnet of their own, with
// host-local's allocations and libcni's cache under the test directory, so
// they touch none of the host's networks; the only traffic goes to pod
// addresses on that bridge and to loopback.
const (
	e2eBridge  = "mkle2e0"
	e2eNetName = "mkle2e"
	e2eSubnet  = "10.219.77.0/24"
	e2eGateway = "10.219.77.1"
	// cniBinDir is where Debian's containernetworking-plugins are.
	cniBinDir = "/usr/lib/cni"
)

// netDaemon starts a daemon whose pod network is the test's own bridge.
// It skips when the CNI plugins are not installed, and deletes the bridge
// when the test ends (after the daemon removed its pods).
func netDaemon(t *testing.T, extraArgs ...string) (*daemon, string) {
	t.Helper()
	e := requireEnv(t)
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
			t.Skipf("CNI plugin %s not installed in %s (Debian: containernetworking-plugins)", p, cniBinDir)
		}
	}
	dir, err := os.MkdirTemp(e.dir, "cni")
	if err != nil {
		t.Fatal(err)
	}
	confDir := filepath.Join(dir, "net.d")
	dataDir := filepath.Join(dir, "ipam")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q, "gateway": %q}]], "dataDir": %q}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}`, e2eNetName, e2eBridge, e2eSubnet, e2eGateway, dataDir)
	if err := os.WriteFile(filepath.Join(confDir, "10-e2e.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered before the daemon's cleanup, so it runs after it.
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", e2eBridge).Run() })
	args := append([]string{"--cni-conf-dir", confDir, "--cni-bin-dir", cniBinDir}, extraArgs...)
	return startDaemon(t, args...), filepath.Join(dataDir, e2eNetName)
}

// haveIPTables reports whether portmap can program hostPorts here.
func haveIPTables() bool {
	_, err := exec.LookPath("iptables")
	return err == nil
}

// podIPIn checks a pod's IP is on the test's subnet and returns it.
func podIPIn(t *testing.T, p *v1.Pod) string {
	t.Helper()
	_, subnet, _ := net.ParseCIDR(e2eSubnet)
	ip := net.ParseIP(p.Status.PodIP)
	if ip == nil || !subnet.Contains(ip) {
		t.Fatalf("pod %s podIP %q is not in %s", p.Name, p.Status.PodIP, e2eSubnet)
	}
	if len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != p.Status.PodIP {
		t.Errorf("pod %s podIPs = %v, want [%s]", p.Name, p.Status.PodIPs, p.Status.PodIP)
	}
	return p.Status.PodIP
}

// httpGetBody fetches url with a short timeout, retrying for a few seconds.
func httpGetBody(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for i := 0; i < 20; i++ {
		resp, err := c.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == 200 {
				return string(b)
			}
			err = fmt.Errorf("status %d, read %v", resp.StatusCode, rerr)
		}
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

const netWebPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: net
spec:
  hostname: webhost
  hostAliases:
  - ip: 10.9.9.9
    hostnames: [alias-one, alias-two]
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: localhost/minikubelet/busybox:e2e
    imagePullPolicy: Never
    env:
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    # httpd listens on the pod IP only: probes that dialled 127.0.0.1
    # inside the namespace would fail.
    command: ["sh", "-c", "cat /etc/hosts; echo POD_IP=$POD_IP; mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p $POD_IP:8080 -h /www"]
    ports:
    - containerPort: 8080
      hostPort: %d
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
    livenessProbe:
      httpGet: {path: /index.html, port: 8080}
      periodSeconds: 1
      failureThreshold: 2
`

const netClientPod = `apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: net
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.9.9.53]
    searches: [e2e.example]
    options:
    - name: ndots
      value: "2"
  containers:
  - name: client
    image: localhost/minikubelet/busybox:e2e
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`

const netHostPod = `apiVersion: v1
kind: Pod
metadata:
  name: hostnet
  namespace: net
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/minikubelet/busybox:e2e
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`

const netHostPort = 38080

func TestNetworkPods(t *testing.T) {
	d, _ := netDaemon(t)
	d.writeManifest("web.yaml", fmt.Sprintf(netWebPod, netHostPort))
	d.writeManifest("client.yaml", netClientPod)
	d.writeManifest("hostnet.yaml", netHostPod)
	web := d.waitPod("net", "web", 90*time.Second, func(p *v1.Pod) (bool, string) {
		return conditionStatus(p, v1.PodReady) == v1.ConditionTrue, fmt.Sprintf("phase %s ip %q", p.Status.Phase, p.Status.PodIP)
	})
	client := d.waitRunning("net", "client")
	webIP, clientIP := podIPIn(t, web), podIPIn(t, client)
	if webIP == clientIP {
		t.Fatalf("two pods share IP %s", webIP)
	}

	t.Run("host reaches pod IP", func(t *testing.T) {
		if got := httpGetBody(t, "http://"+net.JoinHostPort(webIP, "8080")+"/index.html"); !strings.Contains(got, "hello-from-web") {
			t.Errorf("body %q", got)
		}
	})

	t.Run("pod to pod", func(t *testing.T) {
		var out, errOut string
		var err error
		for i := 0; i < 10; i++ {
			out, errOut, err = execIn(t, d, client, "client", "timeout", "5", "wget", "-qO-", "http://"+webIP+":8080/index.html")
			if strings.Contains(out, "hello-from-web") {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Errorf("wget from client to %s: %v: out %q stderr %q", webIP, err, out, errOut)
	})

	t.Run("env and /etc/hosts", func(t *testing.T) {
		logs := d.mustCLI("logs", "-n", "net", "web")
		if !strings.Contains(logs, "POD_IP="+webIP) {
			t.Errorf("status.podIP env not %s in logs:\n%s", webIP, logs)
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(webIP) + `\twebhost$`).MatchString(logs) {
			t.Errorf("/etc/hosts lacks %q<TAB>webhost:\n%s", webIP, logs)
		}
		if !regexp.MustCompile(`(?m)^10\.9\.9\.9\talias-one\talias-two$`).MatchString(logs) {
			t.Errorf("/etc/hosts lacks the hostAliases:\n%s", logs)
		}
		if !strings.Contains(logs, "127.0.0.1\tlocalhost") {
			t.Errorf("/etc/hosts lacks localhost:\n%s", logs)
		}
	})

	t.Run("resolv.conf with dnsPolicy None", func(t *testing.T) {
		out, _, err := execIn(t, d, client, "client", "cat", "/etc/resolv.conf")
		want := "nameserver 10.9.9.53\nsearch e2e.example\noptions ndots:2\n"
		if err != nil || out != want {
			t.Errorf("resolv.conf = %q (%v), want %q", out, err, want)
		}
	})

	t.Run("probes against the pod IP", func(t *testing.T) {
		// Liveness fails after 2 s of failures; give it several periods.
		time.Sleep(4 * time.Second)
		p, err := d.getPod("net", "web")
		if err != nil {
			t.Fatal(err)
		}
		if conditionStatus(p, v1.PodReady) != v1.ConditionTrue {
			t.Errorf("web not Ready: %+v", p.Status.Conditions)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount != 0 {
				t.Errorf("container %s restarted %d times (liveness against the pod IP failing?)", cs.Name, cs.RestartCount)
			}
		}
	})

	t.Run("hostPort on 127.0.0.1", func(t *testing.T) {
		if !haveIPTables() {
			t.Skip("iptables not installed: portmap cannot program hostPorts")
		}
		if got := httpGetBody(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", netHostPort)); !strings.Contains(got, "hello-from-web") {
			t.Errorf("body %q", got)
		}
	})

	t.Run("hostNetwork", func(t *testing.T) {
		p := d.waitRunning("net", "hostnet")
		if p.Status.PodIP == "" || p.Status.PodIP != p.Status.HostIP {
			t.Errorf("hostNetwork podIP %q, want the host IP %q", p.Status.PodIP, p.Status.HostIP)
		}
		own, err := os.Readlink("/proc/self/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		pid := d.taskPid(strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://"))
		theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			t.Fatal(err)
		}
		if own != theirs {
			t.Errorf("hostNetwork pod in %s, host in %s", theirs, own)
		}
		out, _, _ := execIn(t, d, p, "c", "ls", "/sys/class/net")
		if !strings.Contains(out, e2eBridge) {
			t.Errorf("hostNetwork pod does not see the host's %s: %q", e2eBridge, out)
		}
	})

	t.Run("removal releases the network", func(t *testing.T) {
		for _, f := range []string{"web.yaml", "client.yaml", "hostnet.yaml"} {
			d.removeManifest(f)
		}
		for _, n := range []string{"web", "client", "hostnet"} {
			d.waitGone("net", n, 60*time.Second)
		}
		checkNoNetworkLeft(t, d, "")
	})
}

// TestNetworkDelAfterRestart removes a pod with a hostPort while the daemon
// is down: the next daemon tears its network down from libcni's cache,
// port mappings included.
func TestNetworkDelAfterRestart(t *testing.T) {
	if !haveIPTables() {
		t.Skip("iptables not installed: portmap cannot program hostPorts")
	}
	d, dataDir := netDaemon(t)
	d.writeManifest("web.yaml", fmt.Sprintf(netWebPod, netHostPort+1))
	p := d.waitRunning("net", "web")
	ip := podIPIn(t, p)
	if got := httpGetBody(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", netHostPort+1)); !strings.Contains(got, "hello-from-web") {
		t.Errorf("body %q", got)
	}
	if out, _ := exec.Command("iptables-save", "-t", "nat").CombinedOutput(); !strings.Contains(string(out), ":CNI-DN-") {
		t.Fatalf("no portmap chain while the pod runs:\n%s", out)
	}
	d.stop()
	d.start()
	p = d.waitRunning("net", "web")
	if p.Status.PodIP != ip {
		t.Errorf("after a daemon restart podIP %q, want %q", p.Status.PodIP, ip)
	}
	d.stop()
	d.removeManifest("web.yaml")
	d.start()
	d.waitGone("net", "web", 60*time.Second)
	checkNoNetworkLeft(t, d, dataDir)
}

// TestNetworkChurn runs and removes 20 pods with hostPorts, twice, and
// checks nothing of their networks is left.
func TestNetworkChurn(t *testing.T) {
	d, dataDir := netDaemon(t)
	const n = 20
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			d.writeManifest(fmt.Sprintf("churn-%d.yaml", i), fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: churn-%d
  namespace: net
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/minikubelet/busybox:e2e
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    ports:
    - containerPort: 80
      hostPort: %d
`, i, 38200+i))
		}
		seen := map[string]string{}
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("churn-%d", i)
			p := d.waitRunning("net", name)
			ip := podIPIn(t, p)
			if other, ok := seen[ip]; ok {
				t.Errorf("%s and %s share IP %s", name, other, ip)
			}
			seen[ip] = name
		}
		for i := 0; i < n; i++ {
			d.removeManifest(fmt.Sprintf("churn-%d.yaml", i))
		}
		for i := 0; i < n; i++ {
			d.waitGone("net", fmt.Sprintf("churn-%d", i), 90*time.Second)
		}
		checkNoNetworkLeft(t, d, dataDir)
	}
}

// checkNoNetworkLeft fails when the daemon's pods left addresses (in
// host-local's dataDir), veths on the test bridge, per-pod iptables
// chains or rules, libcni cache entries, or namespace pins.
func checkNoNetworkLeft(t *testing.T, d *daemon, dataDir string) {
	t.Helper()
	waitFor(t, 20*time.Second, func() (bool, string) {
		var left []string
		if dataDir != "" {
			entries, _ := os.ReadDir(dataDir)
			for _, e := range entries {
				if net.ParseIP(e.Name()) != nil {
					left = append(left, "allocation "+e.Name())
				}
			}
		}
		out, _ := exec.Command("ip", "-o", "link", "show", "master", e2eBridge).CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.TrimSpace(l) != "" && !strings.Contains(l, "does not exist") {
				left = append(left, "port "+l)
			}
		}
		if haveIPTables() {
			out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
			if err != nil {
				return false, fmt.Sprintf("iptables-save: %v: %s", err, out)
			}
			left = append(left, natRulesOf(string(out), e2eSubnet, e2eNetName)...)
		}
		for _, sub := range []string{"cni/cache/results", "netns"} {
			entries, _ := os.ReadDir(filepath.Join(d.stateDir, sub))
			for _, e := range entries {
				left = append(left, sub+"/"+e.Name())
			}
		}
		return len(left) == 0, "left behind:\n" + strings.Join(left, "\n")
	})
}

// natRulesOf returns the lines of an iptables-save of the nat table that
// belong to one CNI network: portmap's per-container CNI-DN-* chains whose
// rules name the network's subnet or that the network's DNAT jump rules
// lead to, those rules, and anything that names the network. Other
// software's (or another test's) rules on the machine are not ours to
// check.
func natRulesOf(save, subnet, netName string) []string {
	lines := strings.Split(save, "\n")
	named := func(l string) bool {
		return strings.Contains(l, `name: \"`+netName+`\"`) || strings.Contains(l, `name: "`+netName+`"`)
	}
	ours := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		if strings.HasPrefix(f[1], "CNI-DN-") && strings.Contains(l, subnet) {
			ours[f[1]] = true
		}
		if named(l) {
			for i, w := range f {
				if w == "-j" && i+1 < len(f) && strings.HasPrefix(f[i+1], "CNI-DN-") {
					ours[f[i+1]] = true
				}
			}
		}
	}
	var left []string
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && strings.HasPrefix(f[0], ":") && ours[strings.TrimPrefix(f[0], ":")],
			len(f) > 1 && f[0] == "-A" && ours[f[1]],
			named(l):
			left = append(left, "iptables "+l)
		}
	}
	return left
}

// execIn runs a command in a running container with ctr. (busybox
// wget -T crashes; tests bound it with timeout instead.)
func execIn(t *testing.T, d *daemon, p *v1.Pod, container string, argv ...string) (string, string, error) {
	t.Helper()
	var id string
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			id = strings.TrimPrefix(cs.ContainerID, "containerd://")
		}
	}
	if id == "" {
		t.Fatalf("pod %s has no container %s", p.Name, container)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	args := append([]string{"--address", d.env.containerd.addr, "-n", d.ns, "task", "exec", "--exec-id", fmt.Sprintf("e2e-%d", time.Now().UnixNano()), id}, argv...)
	cmd := exec.CommandContext(ctx, "ctr", args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestNetworkNoPlugins: with no CNI plugins the daemon says so once and
// pods run with a loopback-only network and no pod IP.
func TestNetworkNoPlugins(t *testing.T) {
	d := startDaemon(t) // the harness points --cni-bin-dir at an empty place
	d.writeManifest("client.yaml", strings.Replace(netClientPod, "name: client\n", "name: lonely\n", 1))
	p := d.waitRunning("net", "lonely")
	if p.Status.PodIP != "" {
		t.Errorf("podIP %q without a pod network", p.Status.PodIP)
	}
	out, _, err := execIn(t, d, p, "client", "ls", "/sys/class/net")
	if err != nil || strings.Fields(out)[0] != "lo" || len(strings.Fields(out)) != 1 {
		t.Errorf("interfaces %q (%v), want lo only", out, err)
	}
	log, err := os.ReadFile(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "no cni plugins installed"); n != 1 {
		t.Errorf("%d log lines about missing CNI plugins, want 1", n)
	}
}

// TestNetworkDefault: with no configuration in --cni-conf-dir the daemon
// writes and uses its own bridge network under the state dir (here on a
// test subnet; the bridge is deleted afterwards).
func TestNetworkDefault(t *testing.T) {
	requireEnv(t)
	if _, err := os.Stat(filepath.Join(cniBinDir, "bridge")); err != nil {
		t.Skipf("CNI plugins not installed in %s", cniBinDir)
	}
	if _, err := net.InterfaceByName("minikubelet0"); err == nil {
		t.Skip("minikubelet0 exists on this host (a real daemon?); not touching it")
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "minikubelet0").Run() })
	d := startDaemon(t, "--cni-bin-dir", cniBinDir, "--cni-conf-dir", filepath.Join(t.TempDir(), "none"), "--pod-cidr", "10.219.78.0/24")
	d.writeManifest("client.yaml", netClientPod)
	p := d.waitRunning("net", "client")
	_, subnet, _ := net.ParseCIDR("10.219.78.0/24")
	if ip := net.ParseIP(p.Status.PodIP); ip == nil || !subnet.Contains(ip) {
		t.Errorf("podIP %q not in the pod-cidr", p.Status.PodIP)
	}
	conf, err := os.ReadFile(filepath.Join(d.stateDir, "cni", "net.d", "10-minikubelet.conflist"))
	if err != nil || !strings.Contains(string(conf), `"10.219.78.0/24"`) || !strings.Contains(string(conf), filepath.Join(d.stateDir, "cni", "networks")) {
		t.Errorf("default network config (%v):\n%s", err, conf)
	}
	d.removeManifest("client.yaml")
	d.waitGone("net", "client", 60*time.Second)
	entries, _ := os.ReadDir(filepath.Join(d.stateDir, "cni", "networks", "minikubelet"))
	for _, e := range entries {
		if net.ParseIP(e.Name()) != nil {
			t.Errorf("allocation %s left", e.Name())
		}
	}
}

// TestNatRulesOfIsScoped checks the leak check itself: another network's
// leftovers are not ours, our own are all found.
func TestNatRulesOfIsScoped(t *testing.T) {
	save := `*nat
:CNI-DN-aaa - [0:0]
:CNI-DN-bbb - [0:0]
:CNI-DN-ccc - [0:0]
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"mine\" id: \"x\"" -m multiport --dports 80 -j CNI-DN-aaa
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"other\" id: \"y\"" -m multiport --dports 81 -j CNI-DN-bbb
-A CNI-DN-aaa -s 10.1.0.0/24 -p tcp -m tcp --dport 80 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-bbb -s 10.2.0.0/24 -p tcp -m tcp --dport 81 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-ccc -s 10.1.0.0/24 -p tcp -m tcp --dport 82 -j DNAT --to-destination 10.1.0.9:8080
COMMIT`
	got := strings.Join(natRulesOf(save, "10.1.0.0/24", "mine"), "\n")
	for _, want := range []string{":CNI-DN-aaa", ":CNI-DN-ccc", "-j CNI-DN-aaa", "-A CNI-DN-aaa", "-A CNI-DN-ccc"} {
		if !strings.Contains(got, want) {
			t.Errorf("our %q not found in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "bbb") {
		t.Errorf("another network's rules taken for ours:\n%s", got)
	}
}
