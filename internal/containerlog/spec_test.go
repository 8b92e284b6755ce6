package containerlog

import (
	"net/url"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/cio"
)

func TestLoggerSpecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   LoggerSpec
		want LoggerSpec
	}{
		{"defaults", LoggerSpec{Path: "/var/log/pods/x/c/0.log"},
			LoggerSpec{Path: "/var/log/pods/x/c/0.log", MaxSize: DefaultMaxSize, MaxFiles: DefaultMaxFiles}},
		{"explicit", LoggerSpec{Path: "/a b/c&d=e.log", MaxSize: 1024, MaxFiles: 2},
			LoggerSpec{Path: "/a b/c&d=e.log", MaxSize: 1024, MaxFiles: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.in.Encode()
			if enc != tt.in.Encode() {
				t.Fatal("Encode is not stable")
			}
			got, err := DecodeLoggerSpec(enc)
			if err != nil {
				t.Fatalf("DecodeLoggerSpec(%q): %v", enc, err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeLoggerSpecErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", "path is required"},
		{"path=rel.log", "must be absolute"},
		{"path=%2Fx&maxSize=big", "maxSize"},
		{"path=%2Fx&maxFiles=-1", "maxFiles -1"},
		{"path=%2Fx&color=red", `unknown key "color"`},
		{"path=%zz", "decode logger spec"},
	}
	for _, tt := range tests {
		_, err := DecodeLoggerSpec(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("DecodeLoggerSpec(%q) = %v, want error containing %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestBinaryURIShimArgs checks the URI the way the runc shim consumes it:
// every query pair becomes two arguments, in map order.
func TestBinaryURIShimArgs(t *testing.T) {
	spec := LoggerSpec{Path: "/var/log/pods/ns_p_uid/c/0.log", MaxSize: 4096, MaxFiles: 3}
	u, err := BinaryURI("/usr/local/bin/minikubelet", spec)
	if err != nil {
		t.Fatal(err)
	}
	// What the containerd client sends to the shim is the string form.
	parsed, err := url.Parse(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Scheme != "binary" || parsed.Path != "/usr/local/bin/minikubelet" {
		t.Errorf("scheme/path = %q %q", parsed.Scheme, parsed.Path)
	}
	var args []string
	for k, vs := range parsed.Query() {
		args = append(args, k, vs[0])
	}
	if len(args) != 2 || args[0] != LoggerArg {
		t.Fatalf("shim args = %q, want [%s SPEC]", args, LoggerArg)
	}
	got, err := DecodeLoggerSpec(args[1])
	if err != nil {
		t.Fatal(err)
	}
	if got != spec {
		t.Errorf("decoded %+v, want %+v", got, spec)
	}

	io, err := cio.LogURI(u)("id")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := io.Config(); cfg.Stdout != u.String() || cfg.Stderr != u.String() {
		t.Errorf("cio config = %+v", cfg)
	}
}

func TestBinaryURIErrors(t *testing.T) {
	if _, err := BinaryURI("minikubelet", LoggerSpec{Path: "/x.log"}); err == nil {
		t.Error("relative exe accepted")
	}
	if _, err := BinaryURI("/bin/minikubelet", LoggerSpec{Path: "x.log"}); err == nil {
		t.Error("relative log path accepted")
	}
}
