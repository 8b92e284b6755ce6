package prober

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
)

// runTCP passes when a TCP connection to the port opens within the timeout.
// The connection is closed at once; nothing is sent.
func runTCP(ctx context.Context, a *v1.TCPSocketAction, t Target, dial Dialer, timeout time.Duration) (Result, string) {
	port, err := resolvePort(a.Port, t)
	if err != nil {
		return Unknown, "tcp probe: " + err.Error()
	}
	host, d, err := route(a.Host, t, dial)
	if err != nil {
		return Unknown, "tcp probe: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if canceled(ctx) {
			return Unknown, "tcp probe canceled"
		}
		// "dial tcp 10.1.0.5:8080: connect: connection refused", as the
		// kubelet quotes it.
		return Failure, err.Error()
	}
	_ = conn.Close()
	return Success, ""
}

// canceled reports whether ctx ended because its parent was canceled (the
// worker is stopping) rather than because the probe's own timeout passed.
func canceled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}
