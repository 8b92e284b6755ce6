package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/minikubelet/minikubelet/internal/manifest/manifesttest"
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

// TestValidateHostileFiles checks that `minikubelet validate` has the
// daemon's bounds: an alias bomb and a document flood each give one line
// naming the file, quickly and in little memory, and a device is not
// opened.
func TestValidateHostileFiles(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.yaml")
	flood := filepath.Join(dir, "flood.yaml")
	dev := filepath.Join(dir, "dev.yaml")
	if err := os.WriteFile(bomb, manifesttest.AliasBomb("bomb", 256<<10, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flood, manifesttest.DocumentFlood(10_000_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", dev); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ok := Validate([]string{bomb, flood, dev}, "node", &out, &errOut)
	runtime.ReadMemStats(&after)
	if ok {
		t.Fatal("hostile files accepted")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("validate allocated %d MiB, want at most 64 MiB", n>>20)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	want := []string{
		bomb + ": the file's documents expand to more than 20 MiB of JSON",
		flood + ": more than 1000 documents in one file",
		dev + ": not a regular file (a character device); it was not opened",
	}
	if len(lines) != len(want) {
		t.Fatalf("want %d lines, got:\n%s", len(want), errOut.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
}
