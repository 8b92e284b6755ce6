package prober

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// listen returns a loopback listener that accepts and closes connections.
func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t testing.TB) int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := portOf(t, l.Addr().String())
	l.Close()
	return p
}

func tcpProbe(port intstr.IntOrString) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: port}}}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// recordingDialer dials for real and remembers the addresses it was given.
type recordingDialer struct {
	mu    sync.Mutex
	addrs []string
}

func (d *recordingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, network+" "+addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestRunTCP(t *testing.T) {
	open := portOf(t, listen(t).Addr().String())
	closed := closedPort(t)
	c := v1.Container{Name: "c", Ports: []v1.ContainerPort{{Name: "svc", ContainerPort: open}}}

	tests := []struct {
		name    string
		port    intstr.IntOrString
		podIP   string
		dialer  bool
		want    Result
		wantMsg string
		dialed  string
	}{
		{name: "open port", port: intstr.FromInt32(open), podIP: "127.0.0.1", want: Success},
		{name: "named port", port: intstr.FromString("svc"), podIP: "127.0.0.1", want: Success},
		{name: "refused", port: intstr.FromInt32(closed), podIP: "127.0.0.1", want: Failure,
			wantMsg: "dial tcp 127.0.0.1:" + itoa(closed) + ": connect: connection refused"},
		{name: "no pod IP dials through the pod's dialer", port: intstr.FromInt32(open), dialer: true, want: Success,
			dialed: "tcp 127.0.0.1:" + itoa(open)},
		{name: "no pod IP and no dialer", port: intstr.FromInt32(open), want: Unknown, wantMsg: "tcp probe: pod default/web has no IP"},
		{name: "unknown port name", port: intstr.FromString("nope"), podIP: "127.0.0.1", want: Unknown, wantMsg: `no container port named "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := &recordingDialer{}
			var dial Dialer
			if tt.dialer {
				dial = rd.dial
			}
			got, msg := Run(context.Background(), tcpProbe(tt.port), testTarget(c, tt.podIP), nil, dial)
			if got != tt.want || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Run = %v, %q; want %v, %q", got, msg, tt.want, tt.wantMsg)
			}
			if tt.dialed != "" && (len(rd.addrs) != 1 || rd.addrs[0] != tt.dialed) {
				t.Errorf("dialer saw %q, want [%q]", rd.addrs, tt.dialed)
			}
		})
	}
}
