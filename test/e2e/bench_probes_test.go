package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// The probe load benchmark is a bench command, not a test: it prints
// figures and asserts nothing about time. Run it with `make bench-probes`
// (MINIKUBELET_BENCH=1); CI skips it.
const envBench = "MINIKUBELET_BENCH"

const (
	benchPods       = 10
	benchPerPod     = 10
	benchWindow     = 30 * time.Second
	benchExecWindow = 20 * time.Second
)

// benchPod is a pod of benchPerPod busybox httpd containers on ports
// 8000.., each with the given liveness probe (probe "" for none).
func benchPod(name, probe string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
`, name)
	for i := 0; i < benchPerPod; i++ {
		port := 8000 + i
		fmt.Fprintf(&b, `  - name: c%d
    image: %s
    command: ["httpd", "-f", "-p", "%d", "-h", "/"]
`, i, busyboxRef, port)
		switch probe {
		case "tcp":
			fmt.Fprintf(&b, "    livenessProbe: {tcpSocket: {port: %d}, periodSeconds: 1}\n", port)
		case "http":
			fmt.Fprintf(&b, "    livenessProbe: {httpGet: {path: /etc/hostname, port: %d}, periodSeconds: 1}\n", port)
		}
	}
	return b.String()
}

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command (which may hold spaces) start after ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// measure returns the daemon's CPU use over window, in % of one core.
func measure(t *testing.T, d *daemon, window time.Duration) float64 {
	pid := d.cmd.Process.Pid
	start, t0 := cpuTicks(t, pid), time.Now()
	time.Sleep(window)
	used, elapsed := cpuTicks(t, pid)-start, time.Since(t0)
	// /proc counts in USER_HZ ticks, 100 per second on Linux.
	return float64(used) / 100 / elapsed.Seconds() * 100
}

func TestBenchProbeLoad(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skip("a benchmark: run with make bench-probes (" + envBench + "=1)")
	}
	d := startDaemon(t, "--log-level", "info")
	scenarios := []string{"", "tcp", "http"}
	results := map[string]float64{}
	for _, sc := range scenarios {
		for i := 0; i < benchPods; i++ {
			d.writeManifest(fmt.Sprintf("p%d.yaml", i), benchPod(fmt.Sprintf("p%d", i), sc))
		}
		d.waitFor(5*time.Minute, "all bench pods running with probe "+sc, func() (bool, string) {
			list, err := d.listPods()
			if err != nil {
				return false, err.Error()
			}
			ready := 0
			for _, p := range list.Items {
				if p.DeletionTimestamp != nil {
					return false, "old pods still terminating"
				}
				if ok, _ := runningAndReady(&p); ok && benchPodProbe(&p) == sc {
					ready++
				}
			}
			return ready == benchPods, fmt.Sprintf("%d/%d pods ready", ready, benchPods)
		})
		// Let start-up work (image lookups, first probes) die down.
		time.Sleep(5 * time.Second)
		results[sc] = measure(t, d, benchWindow)
		name := sc
		if name == "" {
			name = "no probes (baseline)"
		}
		t.Logf("%-22s daemon CPU %.2f%% of one core over %s (%d containers)", name, results[sc], benchWindow, benchPods*benchPerPod)
	}
	perSecond := float64(benchPods * benchPerPod)
	for _, sc := range scenarios[1:] {
		extra := results[sc] - results[""]
		// % of a core over one second = 10 ms of CPU per 1 %.
		perProbe := extra / 100 * float64(time.Second) / perSecond
		t.Logf("%s probes: %.0f probes/s cost %.2f%% of one core over the baseline: %s of daemon CPU per probe",
			sc, perSecond, extra, time.Duration(perProbe).Round(time.Microsecond))
	}
	benchExec(t, d)
}

// benchPodProbe names the probe kind of a bench pod ("" for none), so the
// wait above can tell the pods of one scenario from the last one's.
func benchPodProbe(p *v1.Pod) string {
	if len(p.Spec.Containers) == 0 || p.Spec.Containers[0].LivenessProbe == nil {
		return ""
	}
	switch lp := p.Spec.Containers[0].LivenessProbe; {
	case lp.TCPSocket != nil:
		return "tcp"
	case lp.HTTPGet != nil:
		return "http"
	}
	return "other"
}

// benchExec measures exec through containerd: sequential execs in one
// container, each a full runc exec, timed end to end.
func benchExec(t *testing.T, d *daemon) {
	rt, err := runtime.NewContainerd(runtime.Options{Address: d.env.containerd.addr, Namespace: d.ns})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	cs, err := rt.ListContainers(context.Background(), map[string]string{runtime.LabelKind: runtime.KindContainer})
	if err != nil || len(cs) == 0 {
		t.Fatalf("no container to exec in: %v", err)
	}
	id := cs[0].ID
	n := 0
	start := time.Now()
	for time.Since(start) < benchExecWindow {
		if _, code, err := rt.Exec(context.Background(), id, []string{"true"}, 5*time.Second); err != nil || code != 0 {
			t.Fatalf("exec: code %d, %v", code, err)
		}
		n++
	}
	t.Logf("exec probe (runc exec of `true`): %d in %s, %s each end to end", n, benchExecWindow, (time.Since(start) / time.Duration(n)).Round(time.Microsecond))
}
