package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestIgnored(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ignored bool
	}{
		{"pod.yaml", false},
		{"pod.yml", false},
		{"pod.json", false},
		{"Pod.YAML", false},
		{"my.pod.v2.yaml", false},
		{".pod.yaml", true},
		{".pod.yaml.swp", true},
		{".#pod.yaml", true},
		{"pod.yaml~", true},
		{"pod.yaml.swp", true},
		{"pod.yaml.tmp", true},
		{"pod.tmp", true},
		{"pod.yaml.bak", true},
		{"pod.yaml.orig", true},
		{"pod.yaml.dpkg-old", true},
		{"pod.yaml.dpkg-new", true},
		{"pod.yaml.dpkg-dist", true},
		{"pod.dpkg-new.yaml", true},
		{"pod.yaml.rpmnew", true},
		{"pod.yaml.rpmsave", true},
		{"pod.yaml.rpmorig", true},
		{"pod.yaml.rpmfoo", true},
		{"pod.rpmsave.yml", true},
		{"pod.txt", true},
		{"README", true},
		{"pod.yaml.1234", true}, // a tool's temporary name
		{"#pod.yaml#", true},
		{"4913", true}, // vim's write test file
		{"", true},
	} {
		if got := Ignored(tc.name); got != tc.ignored {
			t.Errorf("Ignored(%q) = %v, want %v", tc.name, got, tc.ignored)
		}
	}
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", podYAML("web", "nginx:1.27"))
	writeFile(t, dir, "b.yaml", podYAML("db", "postgres:16")+"---\n"+podYAML("web", "nginx:1.28"))
	writeFile(t, dir, "c.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"api"},"spec":{"containers":[{"name":"a","image":"busybox"}]}}`)
	writeFile(t, dir, "a.yaml~", podYAML("backup", "nginx"))
	writeFile(t, dir, ".hidden.yaml", podYAML("hidden", "nginx"))
	writeFile(t, dir, "notes.txt", "hello")
	writeFile(t, dir, "d.yaml", "kind: Service\napiVersion: v1\n")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub"), "deep.yaml", podYAML("deep", "nginx"))

	pods, problems, err := Scan(dir, node)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods {
		names = append(names, p.Key())
	}
	if got := strings.Join(names, " "); got != "default/web default/db default/api" {
		t.Errorf("pods = %s", got)
	}
	if pods[0].File != filepath.Join(dir, "a.yaml") {
		t.Errorf("winner file = %s", pods[0].File)
	}
	if len(problems) != 2 {
		t.Fatalf("problems = %v", problems)
	}
	dup := problems[0]
	if dup.File != filepath.Join(dir, "b.yaml") || dup.Doc != 1 || dup.Field != "metadata.name" ||
		!strings.Contains(dup.Reason, filepath.Join(dir, "a.yaml")) || !strings.Contains(dup.Reason, `"default/web"`) {
		t.Errorf("duplicate problem = %v", dup.Error())
	}
	if problems[1].Field != "kind" {
		t.Errorf("second problem = %v", problems[1].Error())
	}
}

func TestScanDuplicateNamespaces(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", podYAML("web", "nginx"))
	// Same name in another namespace is another pod.
	writeFile(t, dir, "b.yaml", strings.Replace(podYAML("web", "nginx"), "  name: web\n", "  name: web\n  namespace: prod\n", 1))
	// "default" written out is the same as empty.
	writeFile(t, dir, "c.yaml", strings.Replace(podYAML("web", "nginx"), "  name: web\n", "  name: web\n  namespace: default\n", 1))
	pods, problems, err := Scan(dir, node)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 || len(problems) != 1 || problems[0].File != filepath.Join(dir, "c.yaml") {
		t.Errorf("pods %d, problems %v", len(pods), problems)
	}
}

func TestScanMissingDir(t *testing.T) {
	_, _, err := Scan(filepath.Join(t.TempDir(), "nope"), node)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestLoadFileRejects(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse: no real disk use
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	subdir := filepath.Join(dir, "dir.yaml")
	if err := os.Mkdir(subdir, 0o755); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.yaml")
	if err := os.Symlink(filepath.Join(dir, "missing"), dangling); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ path, want string }{
		{big, "over the 10 MiB limit"},
		{fifo, "not a regular file"}, // and, above all, does not hang
		{subdir, "is a directory"},
		{dangling, "no such file"},
	} {
		pods, problems := LoadFile(tc.path, node)
		p := onlyProblem(t, pods, problems)
		if p.File != tc.path || p.Field != "" || !strings.Contains(p.Reason, tc.want) {
			t.Errorf("LoadFile(%s) = %q, want reason containing %q", filepath.Base(tc.path), p.Error(), tc.want)
		}
	}
}

func TestLoadFileFollowsSymlink(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	target := writeFile(t, other, "real.yaml", minimalPod)
	link := filepath.Join(dir, "web.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	pods, problems := LoadFile(link, node)
	if len(pods) != 1 || len(problems) != 0 || pods[0].File != link {
		t.Errorf("pods %v problems %v", pods, problems)
	}
}
