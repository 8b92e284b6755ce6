package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DialInNetNS returns a dial function whose sockets are created inside
// the network namespace pinned at path, so the daemon can reach a pod's
// 127.0.0.1 (probes, hooks) without any pod network. Only the socket's
// creation needs the namespace: a locked OS thread enters it, dials, and
// goes back; the connection keeps its namespace for life.
//
// Every socket must be made on that thread. A name given to net.Dialer
// would be resolved by the daemon's resolver (the host's /etc/hosts and
// DNS, on other threads), and a name with both an IPv4 and an IPv6
// address is dialled by racing goroutines on other, unlocked threads: in
// the host's namespace. So only literal addresses are dialled, one at a
// time, on the locked thread; see inNetNSAddrs for names.
func DialInNetNS(path string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		addrs, err := inNetNSAddrs(network, address)
		if err != nil {
			return nil, err
		}
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			goruntime.LockOSThread()
			c, err, restored := dialIn(ctx, path, network, addrs)
			if restored {
				// Only a thread back in the host namespace may serve
				// other goroutines; otherwise it dies with this one.
				goruntime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// inNetNSAddrs turns address ("host:port") into the literal "ip:port"s a
// dial inside a pod's namespace tries, in order. An IP address is itself.
// "localhost" is 127.0.0.1, then ::1, as every pod's /etc/hosts has it.
// Any other name is refused: the namespace of a pod the daemon reaches
// this way (one without a pod IP) has only loopback, so no DNS server
// inside it could answer, and resolving with the host's resolver would
// give the host's idea of the name, not the pod's.
func inNetNSAddrs(network, address string) ([]string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s in the pod's network namespace: %w", address, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("dial %s in the pod's network namespace: port %q is not a number", address, port)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{address}, nil
	}
	if !strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return nil, fmt.Errorf("dial %s in the pod's network namespace: host %q is not an IP address or localhost, and names are not resolved there (the pod has no IP)", address, host)
	}
	var addrs []string
	if !strings.HasSuffix(network, "6") {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", port))
	}
	if !strings.HasSuffix(network, "4") {
		addrs = append(addrs, net.JoinHostPort("::1", port))
	}
	return addrs, nil
}

// dialIn dials addrs in turn from inside the namespace at path, on the
// calling (locked) thread, and returns the first connection, or the first
// address's error.
func dialIn(ctx context.Context, path, network string, addrs []string) (c net.Conn, err error, restored bool) {
	target, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err), true
	}
	defer target.Close()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, fmt.Errorf("open own network namespace: %w", err), true
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter network namespace %s: %w", path, err), true
	}
	// A literal address is one dial on this goroutine: no resolver and no
	// racing fallback, which FallbackDelay -1 rules out in any case.
	d := net.Dialer{FallbackDelay: -1}
	var first error
	for _, a := range addrs {
		c, err = d.DialContext(ctx, network, a)
		if err == nil {
			break
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("leave network namespace %s: %w", path, serr), false
	}
	if c == nil {
		return nil, first, true
	}
	return c, nil, true
}
