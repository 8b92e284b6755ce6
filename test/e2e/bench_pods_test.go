package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
)

// TestBenchPods is the pod benchmark of docs/benchmarks.md: start latency
// against the containerd floor (bench/floor), deletion latency, the
// daemon's RSS and CPU idle and under 100 probed pods, and memory per pod.
// It prints figures and asserts nothing about time (MINIKUBELET_BENCH=1).
// With MINIKUBELET_BENCH_OUT set it writes the start latencies there as
// JSON for bench/chart.
const (
	benchStartPods = 20
	benchLoadPods  = 100
	benchCPUWindow = 30 * time.Second
)

// startRow is one start-latency scenario; bench/chart reads these.
type startRow struct {
	Scenario  string    `json:"scenario"`
	DaemonP50 float64   `json:"daemon_p50_ms"`
	DaemonP90 float64   `json:"daemon_p90_ms"`
	FloorP50  float64   `json:"floor_p50_ms"`
	FloorP90  float64   `json:"floor_p90_ms"`
	Daemon    []float64 `json:"daemon_samples_ms"`
	Floor     []float64 `json:"floor_samples_ms"`
}

// floorResult is what bench/floor prints.
type floorResult struct {
	P50ms     float64   `json:"p50_ms"`
	P90ms     float64   `json:"p90_ms"`
	Samplesms []float64 `json:"samples_ms"`
}

func TestBenchPods(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skip("a benchmark: run with make bench (" + envBench + "=1)")
	}
	d := startDaemon(t, "--log-level", "info")
	floorBin := buildFloor(t, d.env)
	floorNS := d.ns + "-floor"
	if err := d.env.useNamespace(floorNS); err != nil {
		t.Fatal(err)
	}

	// 3. Idle, before any pod.
	time.Sleep(5 * time.Second)
	idleCPU := measure(t, d, benchCPUWindow)
	idleRSS := vmRSSkB(t, d.cmd.Process.Pid)
	t.Logf("BENCH idle: daemon RSS %.1f MB, CPU %.2f%% of one core over %s", float64(idleRSS)/1024, idleCPU, benchCPUWindow)

	// 1 and 2. Start latency, daemon then floor, per scenario.
	var rows []startRow
	for _, sc := range []struct {
		containers int
		concurrent bool
	}{{1, false}, {1, true}, {3, false}, {3, true}} {
		mode, label := "serial", "one at a time"
		if sc.concurrent {
			mode, label = "concurrent", fmt.Sprintf("%d at once", benchStartPods)
		}
		name := fmt.Sprintf("%dc, %s", sc.containers, label)
		dm := benchDaemonStart(t, d, sc.containers, sc.concurrent)
		fl := runFloor(t, d, floorBin, floorNS, sc.containers, mode)
		r := startRow{Scenario: name, Daemon: dm, Floor: fl.Samplesms,
			DaemonP50: pctl(dm, 50), DaemonP90: pctl(dm, 90), FloorP50: fl.P50ms, FloorP90: fl.P90ms}
		rows = append(rows, r)
		t.Logf("BENCH start %-22s daemon p50 %6.0f ms p90 %6.0f ms | floor p50 %6.0f ms p90 %6.0f ms | ratio p50 %.2f× p90 %.2f×",
			name, r.DaemonP50, r.DaemonP90, r.FloorP50, r.FloorP90, r.DaemonP50/r.FloorP50, r.DaemonP90/r.FloorP90)
	}
	if out := os.Getenv("MINIKUBELET_BENCH_OUT"); out != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Error(err)
		}
	}

	// Idle again, after pods came and went.
	time.Sleep(5 * time.Second)
	cpu := measure(t, d, benchCPUWindow)
	t.Logf("BENCH idle after pods: daemon RSS %.1f MB, CPU %.2f%% of one core over %s",
		float64(vmRSSkB(t, d.cmd.Process.Pid))/1024, cpu, benchCPUWindow)

	// 4. Deletion latency.
	benchDelete(t, d)

	// 3 and 5. 100 pods probed by tcp every second, then by exec every 10 s.
	for _, probe := range []string{"tcp", "exec"} {
		for i := 0; i < benchLoadPods; i++ {
			d.writeManifest(fmt.Sprintf("load%d.yaml", i), loadPod(fmt.Sprintf("load%d", i), probe))
		}
		d.waitFor(10*time.Minute, fmt.Sprintf("%d %s-probed pods running", benchLoadPods, probe), func() (bool, string) {
			list, err := d.listPods()
			if err != nil {
				return false, err.Error()
			}
			n := 0
			for i := range list.Items {
				p := &list.Items[i]
				if p.DeletionTimestamp == nil && allRunning(p) && loadPodProbe(p) == probe {
					n++
				}
			}
			return n == benchLoadPods, fmt.Sprintf("%d/%d", n, benchLoadPods)
		})
		time.Sleep(10 * time.Second)
		cpu := measure(t, d, benchCPUWindow)
		rss := vmRSSkB(t, d.cmd.Process.Pid)
		t.Logf("BENCH %d pods, %s probe: daemon RSS %.1f MB (%.2f× idle), CPU %.2f%% of one core (%.2f points over idle)",
			benchLoadPods, probe, float64(rss)/1024, float64(rss)/float64(idleRSS), cpu, cpu-idleCPU)
		if probe == "tcp" {
			perPodMemory(t, d, benchLoadPods, rss-idleRSS)
		}
	}
}

func buildFloor(t *testing.T, e *environment) string {
	t.Helper()
	out := filepath.Join(e.dir, "floor")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./bench/floor")
	cmd.Dir = e.repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./bench/floor: %v\n%s", err, b)
	}
	return out
}

func runFloor(t *testing.T, d *daemon, bin, ns string, containers int, mode string) floorResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"-address", d.env.containerd.addr, "-namespace", ns,
		"-pause", filepath.Join(d.env.bin, "minikubelet-pause"),
		"-image", busyboxRef, "-runc-root", filepath.Join(d.dir, "runc-floor"),
		"-pods", strconv.Itoa(benchStartPods), "-containers", strconv.Itoa(containers), "-mode", mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("floor: %v\n%s", err, stderr.String())
	}
	var r floorResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("floor output %q: %v", out, err)
	}
	return r
}

// startPod is a pod of n busybox sleep containers.
func startPod(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n", name)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: c%d\n    image: %s\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n", i, busyboxRef)
	}
	return b.String()
}

// allRunning reports whether the pod's every container runs.
func allRunning(p *v1.Pod) bool {
	if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// benchDaemonStart starts benchStartPods pods of n containers, one at a
// time or all at once, and returns each pod's latency from its manifest
// write to all its containers running on the socket, in ms; then removes
// them (not timed).
func benchDaemonStart(t *testing.T, d *daemon, n int, concurrent bool) []float64 {
	t.Helper()
	prefix := fmt.Sprintf("s%d", n)
	if concurrent {
		prefix = fmt.Sprintf("c%d", n)
	}
	names := make([]string, benchStartPods)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	samples := make([]float64, benchStartPods)
	if !concurrent {
		for i, name := range names {
			t0 := time.Now()
			d.writeManifest(name+".yaml", startPod(name, n))
			deadline := t0.Add(2 * time.Minute)
			for {
				p, err := d.getPod("default", name)
				if err == nil && allRunning(p) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pod %s not running after 2m: %v", name, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			samples[i] = ms(time.Since(t0))
		}
	} else {
		t0 := time.Now()
		for _, name := range names {
			d.writeManifest(name+".yaml", startPod(name, n))
		}
		seen := map[string]bool{}
		deadline := t0.Add(5 * time.Minute)
		for len(seen) < len(names) {
			list, err := d.listPods()
			now := time.Now()
			if err == nil {
				for i, name := range names {
					for j := range list.Items {
						p := &list.Items[j]
						if p.Name == name && !seen[name] && allRunning(p) {
							seen[name] = true
							samples[i] = ms(now.Sub(t0))
						}
					}
				}
			}
			if now.After(deadline) {
				t.Fatalf("only %d/%d pods running after 5m", len(seen), len(names))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	removeAllPods(t, d)
	return samples
}

// removeAllPods removes every manifest and waits until the API lists no
// pod.
func removeAllPods(t *testing.T, d *daemon) {
	t.Helper()
	entries, _ := os.ReadDir(d.manifestDir)
	for _, e := range entries {
		_ = os.Remove(filepath.Join(d.manifestDir, e.Name()))
	}
	d.waitFor(5*time.Minute, "all pods gone", func() (bool, string) {
		list, err := d.listPods()
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 0, fmt.Sprintf("%d pods left", len(list.Items))
	})
}

// benchDelete measures manifest removed → GET 404 for pods whose container
// exits on SIGTERM (a shell trap; the grace period is the default 30 s, so
// a missed signal would show).
func benchDelete(t *testing.T, d *daemon) {
	t.Helper()
	const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  containers:
  - name: c
    image: %s
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`
	for i := 0; i < benchStartPods; i++ {
		name := fmt.Sprintf("del-%d", i)
		d.writeManifest(name+".yaml", fmt.Sprintf(manifest, name, busyboxRef))
	}
	for i := 0; i < benchStartPods; i++ {
		d.waitPod("default", fmt.Sprintf("del-%d", i), 2*time.Minute, func(p *v1.Pod) (bool, string) { return allRunning(p), summary(p) })
	}
	time.Sleep(2 * time.Second)
	samples := make([]float64, benchStartPods)
	for i := range samples {
		name := fmt.Sprintf("del-%d", i)
		t0 := time.Now()
		d.removeManifest(name + ".yaml")
		for {
			_, err := d.getPod("default", name)
			if errors.Is(err, api.ErrNotFound) {
				break
			}
			if time.Since(t0) > 2*time.Minute {
				t.Fatalf("pod %s still there 2m after its manifest went: %v", name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		samples[i] = ms(time.Since(t0))
	}
	t.Logf("BENCH delete (SIGTERM honoured, %d pods one at a time): p50 %.0f ms p90 %.0f ms", benchStartPods, pctl(samples, 50), pctl(samples, 90))
	removeAllPods(t, d)
}

// loadPod is a one-container pod probed every second by tcp (busybox
// httpd) or every 10 s by exec (`true`).
func loadPod(name, probe string) string {
	s := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: %s\n", name, busyboxRef)
	switch probe {
	case "tcp":
		s += "    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/\"]\n    livenessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}\n"
	case "exec":
		s += "    command: [\"sleep\", \"3600\"]\n    livenessProbe: {exec: {command: [\"true\"]}, periodSeconds: 10}\n"
	}
	return s
}

func loadPodProbe(p *v1.Pod) string {
	if len(p.Spec.Containers) == 0 || p.Spec.Containers[0].LivenessProbe == nil {
		return ""
	}
	switch lp := p.Spec.Containers[0].LivenessProbe; {
	case lp.TCPSocket != nil:
		return "tcp"
	case lp.Exec != nil:
		return "exec"
	}
	return "other"
}

// procInfo is what perPodMemory reads of a process.
type procInfo struct {
	pid, ppid int
	comm      string
	cmdline   []string
	rss, pss  int64 // kB; pss -1 when smaps_rollup is unreadable
}

func readProcs() map[int]*procInfo {
	out := map[int]*procInfo{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(st)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+2:])
		ppid, _ := strconv.Atoi(f[1])
		p := &procInfo{pid: pid, ppid: ppid, comm: s[strings.IndexByte(s, '(')+1 : i], pss: -1}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			p.cmdline = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		}
		p.rss = statusField(pid, "VmRSS:")
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "Pss:") {
					fs := strings.Fields(line)
					p.pss, _ = strconv.ParseInt(fs[1], 10, 64)
				}
			}
		}
		out[pid] = p
	}
	return out
}

// statusField is a kB field of /proc/<pid>/status (0 when missing).
func statusField(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	return 0
}

func vmRSSkB(t *testing.T, pid int) int64 {
	t.Helper()
	n := statusField(pid, "VmRSS:")
	if n == 0 {
		t.Fatalf("no VmRSS for pid %d", pid)
	}
	return n
}

// perPodMemory reports the shims, pause processes, log writers and
// containers of the daemon's namespace, per pod, with the daemon's share
// (its RSS over idle, per pod).
func perPodMemory(t *testing.T, d *daemon, pods int, daemonExtraKB int64) {
	t.Helper()
	procs := readProcs()
	isShim := func(p *procInfo) bool {
		if len(p.cmdline) == 0 || !strings.HasSuffix(p.cmdline[0], "containerd-shim-runc-v2") {
			return false
		}
		for i, a := range p.cmdline {
			if a == "-namespace" && i+1 < len(p.cmdline) && p.cmdline[i+1] == d.ns {
				return true
			}
		}
		return false
	}
	shims := map[int]bool{}
	for pid, p := range procs {
		if isShim(p) {
			shims[pid] = true
		}
	}
	// The shim's descendants: pause, log writers, the containers.
	under := func(p *procInfo) bool {
		for q := p; q != nil && q.pid > 1; q = procs[q.ppid] {
			if shims[q.ppid] {
				return true
			}
		}
		return false
	}
	type sum struct {
		n        int
		rss, pss int64
		pssOK    bool
	}
	sums := map[string]*sum{}
	kinds := []string{"shim", "pause", "logger", "container"}
	for _, k := range kinds {
		sums[k] = &sum{pssOK: true}
	}
	for pid, p := range procs {
		var kind string
		switch {
		case shims[pid]:
			kind = "shim"
		case !under(p):
			continue
		case p.comm == "pause":
			kind = "pause"
		case strings.Contains(strings.Join(p.cmdline, " "), "__logger"):
			kind = "logger"
		default:
			kind = "container"
		}
		s := sums[kind]
		s.n++
		s.rss += p.rss
		if p.pss < 0 {
			s.pssOK = false
		}
		s.pss += p.pss
	}
	t.Logf("BENCH shims: %d for %d pods (one per pod: %v)", sums["shim"].n, pods, sums["shim"].n == pods)
	for _, k := range kinds {
		s := sums[k]
		pss := "n/a"
		if s.pssOK && s.n > 0 {
			pss = fmt.Sprintf("%.2f MB", float64(s.pss)/1024/float64(pods))
		}
		t.Logf("BENCH per pod %-9s: %3d processes, RSS %.2f MB, PSS %s per pod", k, s.n, float64(s.rss)/1024/float64(pods), pss)
	}
	t.Logf("BENCH per pod daemon share: %.2f MB (RSS over idle / %d)", float64(daemonExtraKB)/1024/float64(pods), pods)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pctl is the nearest-rank percentile of samples (as bench/floor computes
// it).
func pctl(samples []float64, p int) float64 {
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	k := (p*len(s) + 99) / 100
	if k < 1 {
		k = 1
	}
	return s[k-1]
}

// TestBenchStartTrace shows where a pod's start time goes: a daemon at
// log level debug starts one-container pods one at a time, and for each
// the daemon's log lines between the manifest write and the pod seen
// running are printed with their offset from the write. Figures only.
func TestBenchStartTrace(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skip("a benchmark: run with make bench (" + envBench + "=1)")
	}
	d := startDaemon(t) // the harness's default: --log-level debug
	time.Sleep(2 * time.Second)
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("trace-%d", i)
		logStart := fileSize(d.logPath)
		t0 := time.Now()
		d.writeManifest(name+".yaml", startPod(name, 1))
		for {
			p, err := d.getPod("default", name)
			if err == nil && allRunning(p) {
				break
			}
			if time.Since(t0) > 2*time.Minute {
				t.Fatalf("pod %s not running: %v", name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		total := time.Since(t0)
		time.Sleep(200 * time.Millisecond)
		var b strings.Builder
		fmt.Fprintf(&b, "BENCH trace %s: running on the socket after %.0f ms\n", name, ms(total))
		f, err := os.Open(d.logPath)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, fileSize(d.logPath)-logStart)
		_, _ = f.ReadAt(buf, logStart)
		f.Close()
		for _, line := range strings.Split(string(buf), "\n") {
			ts, err := time.Parse(time.RFC3339Nano, strings.SplitN(line, "\t", 2)[0])
			// Skip the polling GETs of this loop.
			if err != nil || strings.Contains(line, `"path": "/pods/default/`+name+`"`) {
				continue
			}
			if len(line) > 240 {
				line = line[:240]
			}
			fmt.Fprintf(&b, "  %+7.1f ms  %s\n", ms(ts.Sub(t0)), line[strings.IndexByte(line, '\t')+1:])
		}
		t.Log(b.String())
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
