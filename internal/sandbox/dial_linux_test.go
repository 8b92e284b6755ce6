package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInNetNSAddrs(t *testing.T) {
	tests := []struct {
		network, address string
		want             []string
		wantErr          string
	}{
		{"tcp", "10.1.0.5:80", []string{"10.1.0.5:80"}, ""},
		{"tcp", "[fd00::1]:80", []string{"[fd00::1]:80"}, ""},
		{"tcp", "localhost:80", []string{"127.0.0.1:80", "[::1]:80"}, ""},
		{"tcp", "LocalHost.:80", []string{"127.0.0.1:80", "[::1]:80"}, ""},
		{"tcp4", "localhost:80", []string{"127.0.0.1:80"}, ""},
		{"tcp6", "localhost:80", []string{"[::1]:80"}, ""},
		{"tcp", "web.example:80", nil, `host "web.example" is not an IP address or localhost`},
		{"tcp", "localhost.example:80", nil, "is not an IP address or localhost"},
		{"tcp", "127.0.0.1:http", nil, `port "http" is not a number`},
		{"tcp", "127.0.0.1", nil, "missing port"},
	}
	for _, tt := range tests {
		got, err := inNetNSAddrs(tt.network, tt.address)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.address) {
				t.Errorf("inNetNSAddrs(%q, %q) = %q, %v; want an error naming the address and %q", tt.network, tt.address, got, err, tt.wantErr)
			}
		case err != nil || strings.Join(got, ",") != strings.Join(tt.want, ","):
			t.Errorf("inNetNSAddrs(%q, %q) = %q, %v; want %q", tt.network, tt.address, got, err, tt.want)
		}
	}
}

// serveName answers every connection on l with name, until l closes.
func serveName(l net.Listener, name string) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, name)
			c.Close()
		}
	}()
}

// TestDialInNetNSStaysInside: dials of "localhost" and of literals reach
// the listener inside the namespace, never the host's listener on the same
// address and port; a name the namespace cannot resolve is refused before
// any dial. The IPv6 listener inside (with the host's on [::1] too) is the
// case Go's resolver would race from other threads: "localhost" must reach
// it through the locked thread, after 127.0.0.1 is refused.
func TestDialInNetNSStaysInside(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "ns")
	if err := pinNetNS(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unpinNetNS(path) })

	// The host's listener first, on a free port; the namespace's then
	// takes the same port.
	host4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host4.Close()
	serveName(host4, "host")
	port4 := strconv.Itoa(host4.Addr().(*net.TCPAddr).Port)
	in4, err := listenInAt(path, "127.0.0.1:"+port4)
	if err != nil {
		t.Fatal(err)
	}
	defer in4.Close()
	serveName(in4, "inside")

	dial := DialInNetNS(path)
	read := func(address string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := dial(ctx, "tcp", address)
		if err != nil {
			return "", err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	for _, a := range []string{"localhost:" + port4, "127.0.0.1:" + port4} {
		if got, err := read(a); err != nil || got != "inside" {
			t.Errorf("dial %s in the namespace reached %q (%v), want the listener inside", a, got, err)
		}
	}
	if got, err := read("nosuchname.invalid:" + port4); err == nil || !strings.Contains(err.Error(), "not an IP address or localhost") {
		t.Errorf("dial of a name reached %q (%v), want a refusal", got, err)
	}

	in6, err := listenInAt(path, "[::1]:0")
	if err != nil {
		t.Logf("no IPv6 loopback in the namespace (%v): the ::1 case is not checked", err)
		return
	}
	defer in6.Close()
	serveName(in6, "inside")
	port6 := strconv.Itoa(in6.Addr().(*net.TCPAddr).Port)
	if host6, err := net.Listen("tcp", "[::1]:"+port6); err == nil {
		defer host6.Close()
		serveName(host6, "host")
	}
	if host4b, err := net.Listen("tcp", "127.0.0.1:"+port6); err == nil {
		defer host4b.Close()
		serveName(host4b, "host")
	}
	if got, err := read("localhost:" + port6); err != nil || got != "inside" {
		t.Errorf("dial localhost:%s with only [::1] listening in the namespace reached %q (%v), want the listener inside", port6, got, err)
	}
}
