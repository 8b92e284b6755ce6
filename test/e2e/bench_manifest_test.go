package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBenchHostileManifests is the hostile-manifest figure of
// docs/benchmarks.md: the daemon's peak RSS (VmHWM) while it rejects each
// file of hostileManifests and a file of dense documents just under the
// document size limit, with the time from the write to its
// InvalidManifest event. The peak is reset (clear_refs) before each file,
// so each figure is that file's. It prints figures and asserts nothing
// (MINIKUBELET_BENCH=1).
func TestBenchHostileManifests(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skip("a benchmark: run with make bench (" + envBench + "=1)")
	}
	d := startDaemon(t, "--log-level", "info")
	pid := d.cmd.Process.Pid
	time.Sleep(5 * time.Second)
	t.Logf("BENCH hostile manifests: idle daemon RSS %.1f MB, peak since start %.1f MB",
		float64(statusField(pid, "VmRSS:"))/1024, float64(statusField(pid, "VmHWM:"))/1024)

	// Twenty documents of 500 KB of `[0,0,...]`: each under the 512 KiB
	// document limit, and the densest YAML there is.
	dense := func() []byte {
		return []byte(strings.Repeat("---\nx: [0"+strings.Repeat(",0", 250_000)+"]\n", 20))
	}
	files := append(hostileManifests[:len(hostileManifests):len(hostileManifests)], hostileFile{"dense.yaml", "", dense})
	for _, h := range files {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			t.Fatalf("reset the daemon's peak RSS: %v", err)
		}
		before := statusField(pid, "VmHWM:")
		data := h.content()
		t0 := time.Now()
		d.writeManifest(h.name, string(data))
		waitManifestEvent(t, d, h.name, 5*time.Minute)
		took := time.Since(t0)
		time.Sleep(time.Second)
		t.Logf("BENCH hostile %-13s (%5.1f MB file): daemon peak RSS %.1f MB before, %.1f MB while rejecting it; event after %.0f ms; RSS after %.1f MB",
			h.name, float64(len(data))/1e6, float64(before)/1024, float64(statusField(pid, "VmHWM:"))/1024, ms(took), float64(statusField(pid, "VmRSS:"))/1024)
		d.removeManifest(h.name)
	}
	if !d.alive() {
		t.Error("the daemon died")
	}
}
