package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSocketPrecedence(t *testing.T) {
	t.Setenv("MINIKUBELET_SOCKET", "/env.sock")
	if got := Socket("/flag.sock"); got != "/flag.sock" {
		t.Errorf("flag: %s", got)
	}
	if got := Socket(""); got != "/env.sock" {
		t.Errorf("env: %s", got)
	}
	t.Setenv("MINIKUBELET_SOCKET", "")
	if got := Socket(""); got != DefaultSocket {
		t.Errorf("default: %s", got)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: c, image: busybox:1}]\n"), 0o644)
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  containers: [{name: c, image: busybox:1, imagee: x}]\n"), 0o644)
	var out, errOut bytes.Buffer
	if !Validate([]string{good}, "node", &out, &errOut) {
		t.Fatalf("good manifest refused: %s", errOut.String())
	}
	if !strings.Contains(out.String(), "pod default/web is valid") {
		t.Errorf("out %q", out.String())
	}
	out.Reset()
	if Validate([]string{good, bad, filepath.Join(dir, "missing.yaml"), dir}, "node", &out, &errOut) {
		t.Fatal("bad manifests accepted")
	}
	for _, want := range []string{bad + ": ", "imagee", "missing.yaml", "is a directory"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("errors lack %q:\n%s", want, errOut.String())
		}
	}
}

func TestGetWithoutDaemonSaysWhy(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Get(context.Background(), GetOptions{Socket: filepath.Join(t.TempDir(), "none.sock")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "is the daemon running?") {
		t.Fatalf("error %v", err)
	}
	if err := Get(context.Background(), GetOptions{Output: "xml"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "allowed formats") {
		t.Fatalf("bad -o: %v", err)
	}
}
