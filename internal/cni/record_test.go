package cni

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakePlugin is a CNI plugin (a shell script) that logs each call as
// "COMMAND containerID hostPort=N..." and fails a command while a file
// named fail-COMMAND exists next to its log.
type fakePlugin struct {
	t        *testing.T
	dir, log string
}

func newFakePlugin(t *testing.T) (*fakePlugin, *Network) {
	t.Helper()
	dir := t.TempDir()
	f := &fakePlugin{t: t, dir: dir, log: filepath.Join(dir, "calls")}
	script := fmt.Sprintf(`#!/bin/sh
conf=$(cat)
ports=$(printf '%%s' "$conf" | grep -o '"hostPort":[0-9]*' | tr '\n' ' ')
echo "$CNI_COMMAND $CNI_CONTAINERID $ports" >> %[1]s/calls
if [ -e %[1]s/fail-$CNI_COMMAND ]; then
  echo '{"cniVersion":"1.0.0","code":11,"msg":"injected failure"}'
  exit 1
fi
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.1.2.3/24"}]}'
fi
`, dir)
	bin := filepath.Join(dir, "bin")
	conf := filepath.Join(dir, "net.d")
	for _, d := range []string{bin, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "10-t.conflist"), []byte(`{"cniVersion":"1.0.0","name":"t","plugins":[{"type":"fake","capabilities":{"portMappings":true}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	nw, err := New(Options{BinDirs: []string{bin}, ConfDir: conf, StateDir: filepath.Join(dir, "state"), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return f, nw
}

func (f *fakePlugin) fail(cmd string, on bool) {
	f.t.Helper()
	p := filepath.Join(f.dir, "fail-"+cmd)
	if on {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
	} else if err := os.Remove(p); err != nil {
		f.t.Fatal(err)
	}
}

// calls returns the calls logged since the last one, and forgets them.
func (f *fakePlugin) calls() []string {
	f.t.Helper()
	b, _ := os.ReadFile(f.log)
	_ = os.Remove(f.log)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// teardownDels checks that a Teardown of sandbox id DELs it once, with
// the pod's port mappings, and leaves nothing listed.
func (f *fakePlugin) teardownDels(nw *Network, id string) {
	f.t.Helper()
	if err := nw.Teardown(context.Background(), id, ""); err != nil {
		f.t.Fatal(err)
	}
	if got, want := f.calls(), []string{"DEL " + id + ` "hostPort":8080`}; !reflect.DeepEqual(got, want) {
		f.t.Errorf("calls %q, want %q", got, want)
	}
	if got := attached(f.t, nw); len(got) != 0 {
		f.t.Errorf("Attached = %v after the teardown, want none", got)
	}
}

func hostPortPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Ports: []v1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}}}},
	}
}

func attached(t *testing.T, nw *Network) []string {
	t.Helper()
	ids, err := nw.Attached()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestFailedDelStaysRetryable: an ADD that fails and whose rollback DEL
// fails too keeps its record; a later Teardown DELs it with the same port
// mappings and only then forgets it. Before the record, the only trace of
// such an attachment was gone with the failed ADD.
func TestFailedDelStaysRetryable(t *testing.T) {
	f, nw := newFakePlugin(t)
	ctx := context.Background()
	f.fail("ADD", true)
	f.fail("DEL", true)
	if _, err := nw.Setup(ctx, "sb1", "/nonexistent/netns", hostPortPod()); err == nil {
		t.Fatal("Setup succeeded with a failing ADD")
	}
	if got, want := f.calls(), []string{`ADD sb1 "hostPort":8080`, `DEL sb1 "hostPort":8080`}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if got := attached(t, nw); !reflect.DeepEqual(got, []string{"sb1"}) {
		t.Fatalf("Attached = %v after a failed rollback, want [sb1]", got)
	}
	if err := nw.Teardown(ctx, "sb1", ""); err == nil {
		t.Fatal("Teardown succeeded with a failing DEL")
	}
	f.calls()
	if got := attached(t, nw); !reflect.DeepEqual(got, []string{"sb1"}) {
		t.Fatalf("Attached = %v after a failed Teardown, want [sb1]", got)
	}
	f.fail("DEL", false)
	f.teardownDels(nw, "sb1")
	// Nothing left: a second teardown calls no plugin.
	if err := nw.Teardown(ctx, "sb1", ""); err != nil {
		t.Fatal(err)
	}
	if got := f.calls(); len(got) != 0 {
		t.Errorf("teardown of a detached sandbox called %q", got)
	}
}

// TestAttachmentLifecycle: a successful ADD is listed (libcni's cache and
// the record) until its Teardown; a Teardown whose DEL fails keeps it
// listed and retryable from the cache.
func TestAttachmentLifecycle(t *testing.T) {
	f, nw := newFakePlugin(t)
	ctx := context.Background()
	ip, err := nw.Setup(ctx, "sb2", "/nonexistent/netns", hostPortPod())
	if err != nil || ip != "10.1.2.3" {
		t.Fatalf("Setup = %q, %v", ip, err)
	}
	if got := attached(t, nw); !reflect.DeepEqual(got, []string{"sb2"}) {
		t.Fatalf("Attached = %v, want [sb2]", got)
	}
	f.fail("DEL", true)
	if err := nw.Teardown(ctx, "sb2", ""); err == nil {
		t.Fatal("Teardown succeeded with a failing DEL")
	}
	if got := attached(t, nw); !reflect.DeepEqual(got, []string{"sb2"}) {
		t.Fatalf("Attached = %v after a failed DEL, want [sb2]", got)
	}
	f.fail("DEL", false)
	f.calls()
	f.teardownDels(nw, "sb2")
}

// TestKilledDuringAdd: a daemon killed during the ADD leaves the record
// and no libcni cache entry; the next daemon DELs from the record.
func TestKilledDuringAdd(t *testing.T) {
	f, nw := newFakePlugin(t)
	if err := nw.writeRecord("sb3", runtimeConf("sb3", "/nonexistent/netns", hostPortPod())); err != nil {
		t.Fatal(err)
	}
	if got := attached(t, nw); !reflect.DeepEqual(got, []string{"sb3"}) {
		t.Fatalf("Attached = %v, want [sb3]", got)
	}
	f.teardownDels(nw, "sb3")
}
