package prober

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minikubelet/minikubelet/internal/spec"
)

// runGRPC calls grpc.health.v1.Health/Check with the probe's service name
// (empty: the server as a whole); only SERVING passes.
//
// Each attempt makes its own client and closes it, like the http probe's
// fresh transport: no connection state carries over between attempts or
// container restarts. The client is plaintext, as the kubelet's is.
func runGRPC(ctx context.Context, a *v1.GRPCAction, t Target, dial Dialer, timeout time.Duration, kubeVersion string) (Result, string) {
	port, err := spec.ResolvePort(intstr.FromInt32(a.Port), nil, nil)
	if err != nil {
		return Unknown, "grpc probe: " + err.Error()
	}
	host, d, err := route("", t, dial)
	if err != nil {
		return Unknown, "grpc probe: " + err.Error()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	// passthrough: the address is already an IP:port; no resolver, no DNS.
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d(ctx, "tcp", addr)
		}),
		grpc.WithUserAgent("kube-probe/"+kubeVersion),
		grpc.WithDisableServiceConfig(),
		grpc.WithDisableRetry(),
	)
	if err != nil {
		return Unknown, "grpc probe: " + err.Error()
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if canceled(ctx) {
			return Unknown, "grpc probe canceled"
		}
		// Worded as the kubelet words them.
		switch st, _ := status.FromError(err); st.Code() {
		case codes.Unimplemented:
			return Failure, "server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.Message()
		case codes.DeadlineExceeded:
			return Failure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
		default:
			return Failure, fmt.Sprintf("error: health rpc probe failed: %v", err)
		}
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", s.String())
	}
	return Success, ""
}
