package prober

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	v1 "k8s.io/api/core/v1"
)

// grpcServer serves grpc.health.v1 on loopback ("" and "good" SERVING,
// "bad" NOT_SERVING) unless noHealth, and records each call's user-agent.
type grpcServer struct {
	port int32
	mu   sync.Mutex
	ua   []string
}

func startGRPC(t testing.TB, noHealth bool) *grpcServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := &grpcServer{port: portOf(t, l.Addr().String())}
	s := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		gs.mu.Lock()
		if len(gs.ua) < 16 { // benchmarks call this a lot
			gs.ua = append(gs.ua, md.Get("user-agent")...)
		}
		gs.mu.Unlock()
		return h(ctx, req)
	}))
	if !noHealth {
		hs := health.NewServer()
		hs.SetServingStatus("good", healthpb.HealthCheckResponse_SERVING)
		hs.SetServingStatus("bad", healthpb.HealthCheckResponse_NOT_SERVING)
		healthpb.RegisterHealthServer(s, hs)
	}
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return gs
}

func grpcProbe(port int32, service *string) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: port, Service: service}}}
}

func ptr[T any](v T) *T { return &v }

func TestRunGRPC(t *testing.T) {
	srv := startGRPC(t, false)
	bare := startGRPC(t, true)
	closed := closedPort(t)

	tests := []struct {
		name    string
		port    int32
		service *string
		want    Result
		wantMsg string
	}{
		{name: "server SERVING", port: srv.port, want: Success},
		{name: "service SERVING", port: srv.port, service: ptr("good"), want: Success},
		{name: "service NOT_SERVING", port: srv.port, service: ptr("bad"), want: Failure,
			wantMsg: `service unhealthy (responded with "NOT_SERVING")`},
		{name: "unknown service", port: srv.port, service: ptr("nope"), want: Failure,
			wantMsg: "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
		{name: "no health service", port: bare.port, want: Failure,
			wantMsg: "server does not implement the grpc health protocol (grpc.health.v1.Health)"},
		{name: "refused", port: closed, want: Failure, wantMsg: "connection refused"},
		{name: "port out of range", port: 0, want: Unknown, wantMsg: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := Run(context.Background(), grpcProbe(tt.port, tt.service), testTarget(v1.Container{Name: "c"}, "127.0.0.1"), nil, nil)
			if got != tt.want || (tt.wantMsg == "" && msg != "") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Run = %v, %q; want %v, %q", got, msg, tt.want, tt.wantMsg)
			}
		})
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.ua) == 0 || !strings.HasPrefix(srv.ua[0], "kube-probe/1.37") {
		t.Errorf("user-agents %q; want kube-probe/1.37 ...", srv.ua)
	}
}

func TestRunGRPCThroughDialer(t *testing.T) {
	srv := startGRPC(t, false)
	rd := &recordingDialer{}
	got, msg := Run(context.Background(), grpcProbe(srv.port, nil), testTarget(v1.Container{Name: "c"}, ""), nil, rd.dial)
	if got != Success {
		t.Fatalf("Run = %v, %q", got, msg)
	}
	if want := "tcp 127.0.0.1:" + itoa(srv.port); len(rd.addrs) != 1 || rd.addrs[0] != want {
		t.Errorf("dialer saw %q, want [%q]", rd.addrs, want)
	}
}
