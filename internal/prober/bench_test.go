package prober

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The benchmarks run one probe attempt per iteration against an in-process
// loopback server, so ns/op and allocs/op include the server's side of the
// exchange: an upper bound on the daemon's cost per probe. Each attempt
// opens a new connection, as real probes do.
//
//	go test -run '^$' -bench BenchmarkProbe -benchmem ./internal/prober/
//
// cpu-ns/op is the process's user+system CPU per attempt (getrusage), the
// figure to compare with the 1 ms per probe target.

func benchRun(b *testing.B, p *v1.Probe) {
	b.Helper()
	tg := testTarget(v1.Container{Name: "c"}, "127.0.0.1")
	ctx := context.Background()
	if r, msg := Run(ctx, p, tg, nil, nil); r != Success {
		b.Fatalf("probe = %v, %q", r, msg)
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		if r, msg := Run(ctx, p, tg, nil, nil); r != Success {
			b.Fatalf("probe = %v, %q", r, msg)
		}
	}
	// ns/op is wall time; the CPU the whole process (client, server, GC)
	// spent per probe is what the daemon's budget is about.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the user+system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkProbeTCP(b *testing.B) {
	benchRun(b, tcpProbe(intstr.FromInt32(portOf(b, listen(b).Addr().String()))))
}

func BenchmarkProbeHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	b.Cleanup(srv.Close)
	benchRun(b, httpProbe("/healthz", intstr.FromInt32(portOf(b, srv.Listener.Addr().String()))))
}

func BenchmarkProbeGRPC(b *testing.B) {
	benchRun(b, grpcProbe(startGRPC(b, false).port, nil))
}
