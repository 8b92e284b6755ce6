// Command grpc-health is a tiny gRPC server for the end-to-end probe
// tests: it serves grpc.health.v1.Health with a fixed status for the
// overall server ("") and for one named service.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	port := flag.Int("port", 9090, "port to listen on (all addresses)")
	service := flag.String("service", "", "a named service to report besides the server's own status")
	status := flag.String("status", "SERVING", "status to report: SERVING or NOT_SERVING")
	flag.Parse()
	st, ok := healthpb.HealthCheckResponse_ServingStatus_value[*status]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown status %q\n", *status)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_ServingStatus(st))
	if *service != "" {
		h.SetServingStatus(*service, healthpb.HealthCheckResponse_ServingStatus(st))
	}
	healthpb.RegisterHealthServer(srv, h)
	log.Printf("grpc health server on %s: %s", l.Addr(), *status)
	if err := srv.Serve(l); err != nil {
		log.Fatal(err)
	}
}
