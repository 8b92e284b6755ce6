package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// TestImageArchiveDirectory drops image archives (one plain, one gzip'd,
// the second written slowly in two parts) into <state-dir>/images and runs
// pods from them with imagePullPolicy Never: no registry, no ctr.
func TestImageArchiveDirectory(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	files, err := ocibuild.BusyboxFiles(staticBusybox)
	if err != nil {
		t.Fatal(err)
	}
	archive := func(ref string) []byte {
		var buf bytes.Buffer
		if _, err := ocibuild.WriteArchive(&buf, ref, files, ocibuild.Config{Cmd: []string{"sh"}, Env: []string{ocibuild.DefaultPathEnv}}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	dir := filepath.Join(d.stateDir, "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Written atomically.
	writeFileAtomic(t, filepath.Join(dir, "plain.tar"), archive("localhost/dropped/plain:1"))
	// Written in place, slowly: half an archive must not be imported.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(archive("localhost/dropped/gzip:1"))
	zw.Close()
	data := gz.Bytes()
	slow := filepath.Join(dir, "slow.tar.gz")
	if err := os.WriteFile(slow, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	f, err := os.OpenFile(slow, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data[len(data)/2:])
	f.Close()

	for name, img := range map[string]string{"from-plain": "localhost/dropped/plain:1", "from-gzip": "localhost/dropped/gzip:1"} {
		d.writeManifest(name+".yaml", imagePod(name, img, v1.PullNever))
		p := d.waitPod("default", name, 60*time.Second, func(p *v1.Pod) (bool, string) { return runningAndReady(p) })
		if p.Status.ContainerStatuses[0].ImageID == "" {
			t.Errorf("%s: no imageID", name)
		}
	}
	if b, _ := os.ReadFile(d.logPath); bytes.Count(b, []byte("imported image archive")) != 2 {
		t.Errorf("want exactly two imports in the daemon log:\n%s", tailFile(d.logPath, 40))
	}
}
