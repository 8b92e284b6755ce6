package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// DialInNetNS returns a dial function whose sockets are created inside
// the network namespace pinned at path, so the daemon can reach a pod's
// 127.0.0.1 (probes, hooks) without any pod network. Only the socket's
// creation needs the namespace: a locked OS thread enters it, dials, and
// goes back; the connection keeps its namespace for life.
func DialInNetNS(path string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			goruntime.LockOSThread()
			c, err, restored := dialIn(ctx, path, network, address)
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

func dialIn(ctx context.Context, path, network, address string) (c net.Conn, err error, restored bool) {
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
	var d net.Dialer
	c, err = d.DialContext(ctx, network, address)
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("leave network namespace %s: %w", path, serr), false
	}
	return c, err, true
}
