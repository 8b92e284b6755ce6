package ocibuild

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// These tests build images from real binaries: the host's busybox and the
// project's pause.c, compiled with the Makefile's exact flags. They skip
// when the tools are missing.

// staticBusybox returns a static busybox binary or skips the test.
func staticBusybox(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox on PATH (Debian: apt-get install busybox-static)")
	}
	if _, err := readStaticBinary(path); err != nil {
		t.Skipf("busybox is not usable in an image: %v (Debian: apt-get install busybox-static)", err)
	}
	return path
}

func TestBusyboxFiles(t *testing.T) {
	files, err := BusyboxFiles(staticBusybox(t))
	if err != nil {
		t.Fatalf("BusyboxFiles: %v", err)
	}
	byPath := map[string]File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	if f := byPath["/bin/busybox"]; f.Mode != 0o755 || len(f.Data) == 0 {
		t.Errorf("/bin/busybox: mode %v, %d bytes", f.Mode, len(f.Data))
	}
	for _, applet := range []string{"sh", "echo", "sleep", "httpd", "wget", "nc"} {
		if f := byPath["/bin/"+applet]; f.Mode.Type() != fs.ModeSymlink || f.Link != "busybox" {
			t.Errorf("/bin/%s: %+v, want a symlink to busybox", applet, f)
		}
	}
	if f := byPath["/tmp"]; f.Mode != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("/tmp mode %v", f.Mode)
	}
	if f := byPath["/var/www"]; !f.Mode.IsDir() {
		t.Errorf("/var/www: %+v", f)
	}
	if !strings.Contains(string(byPath["/etc/passwd"].Data), "nobody:x:65534:65534:") ||
		!strings.Contains(string(byPath["/etc/group"].Data), "nobody:x:65534:") {
		t.Errorf("passwd/group lack nobody:\n%s%s", byPath["/etc/passwd"].Data, byPath["/etc/group"].Data)
	}
	for _, absent := range []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/bin/busybox/"} {
		if _, ok := byPath[absent]; ok {
			t.Errorf("%s should not be in the image", absent)
		}
	}
	// The files must make a valid archive as they are.
	var buf bytes.Buffer
	if _, err := WriteArchive(&buf, "localhost/minikubelet/busybox:test", files, Config{Cmd: []string{"sh"}}); err != nil {
		t.Fatalf("WriteArchive(busybox): %v", err)
	}
}

// buildPause compiles build/pause/pause.c with the exact flags of the
// top-level Makefile, or skips without gcc.
func buildPause(t *testing.T, extraFlags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	out := filepath.Join(t.TempDir(), "minikubelet-pause")
	args := append([]string{"-Os", "-static", "-s", "-o", out, "../../build/pause/pause.c"}, extraFlags...)
	if msg, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		if len(extraFlags) == 0 {
			t.Fatalf("gcc %v: %v\n%s", args, err, msg)
		}
		t.Skipf("gcc %v: %v\n%s", args, err, msg)
	}
	return out
}

func TestPauseFiles(t *testing.T) {
	bin := buildPause(t)
	if out, err := exec.Command(bin, "-v").CombinedOutput(); err != nil || !strings.Contains(string(out), "minikubelet") {
		t.Errorf("%s -v: %v: %s", bin, err, out)
	}
	files, cfg, err := PauseFiles(bin)
	if err != nil {
		t.Fatalf("PauseFiles: %v", err)
	}
	if len(files) != 1 || files[0].Path != "/pause" || files[0].Mode != 0o755 || len(files[0].Data) == 0 {
		t.Errorf("files %+v", files)
	}
	want := Config{Entrypoint: []string{"/pause"}, User: "65535:65535"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config %+v, want %+v", cfg, want)
	}
	var buf bytes.Buffer
	if _, err := WriteArchive(&buf, "localhost/minikubelet/pause:test", files, cfg); err != nil {
		t.Fatalf("WriteArchive(pause): %v", err)
	}
}

func TestPauseFilesRejectsUnusableBinaries(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := PauseFiles(notELF); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("PauseFiles(script) error %v, want not an ELF", err)
	}
	if _, _, err := PauseFiles(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PauseFiles(missing) error %v, want fs.ErrNotExist", err)
	}
	t.Run("dynamic", func(t *testing.T) {
		// The same source linked dynamically, which is the usual
		// mistake (a missing -static).
		if _, err := exec.LookPath("gcc"); err != nil {
			t.Skip("gcc not installed")
		}
		out := filepath.Join(t.TempDir(), "pause-dynamic")
		if msg, err := exec.Command("gcc", "-Os", "-o", out, "../../build/pause/pause.c").CombinedOutput(); err != nil {
			t.Skipf("gcc: %v\n%s", err, msg)
		}
		if _, _, err := PauseFiles(out); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
			t.Errorf("PauseFiles(dynamic) error %v, want dynamically linked", err)
		}
	})
}
