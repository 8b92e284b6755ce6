package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (hack/test.sh runs it as root)")
	}
}

// listenIn listens on 127.0.0.1 inside the namespace pinned at path.
func listenIn(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := listenInAt(path, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// listenInAt listens on addr inside the namespace pinned at path.
func listenInAt(path, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread dies with us
		f, err := os.Open(path)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, err}
			return
		}
		l, err := net.Listen("tcp", addr)
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}

func TestPinnedNetNSAndDial(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "ns")
	if err := pinNetNS(path); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unpinNetNS(path); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("pin left behind: %v", err)
		}
	}()
	l := listenIn(t, path)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "inside")
			c.Close()
		}
	}()
	addr := l.Addr().String()
	dial := DialInNetNS(path)
	// Many dials: each must come back with the thread in the host
	// namespace, or later host dials would land in the pod.
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := dial(ctx, "tcp", addr)
		cancel()
		if err != nil {
			t.Fatalf("dial %d in namespace: %v", i, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != "inside" {
			t.Fatalf("read %q", b)
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("the pod's port %s is reachable from the host namespace", addr)
		}
	}
}
