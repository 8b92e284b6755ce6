package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/manifest/manifesttest"
)

// hostileFile is a manifest file made to hurt the daemon, with the start
// of the reason it is refused for.
type hostileFile struct {
	name, reason string
	content      func() []byte
}

// hostileManifests are files that once took the daemon down or wiped its
// events (review findings #1 and #4).
var hostileManifests = []hostileFile{
	// 256 KiB scalar, 5000 aliases: 1.3 GB of JSON from a 280 KB file.
	{"bomb.yaml", "the file's documents expand to more than 20 MiB of JSON", func() []byte { return manifesttest.AliasBomb("bomb", 256<<10, 5000) }},
	// The review's repro: 1 MiB scalar, 5000 aliases, 5 GiB of JSON; it
	// is over the document size limit before anything else.
	{"bomb-1m.yaml", "document is 1063", func() []byte { return manifesttest.AliasBomb("bomb", 1<<20, 5000) }},
	// 10 MB of "---\na: 1\n": 1.1 million documents.
	{"flood.yaml", "more than 1000 documents in one file", func() []byte { return manifesttest.DocumentFlood(10_000_000) }},
	// 1000 documents with two problems each: 20 and a summary.
	{"problems.yaml", "21 problems: kind: missing", func() []byte { return []byte(strings.Repeat("---\na: 1\n", 1000)) }},
}

// manifestEvents returns the InvalidManifest events whose message names
// file (by its path in the manifest directory).
func manifestEvents(t *testing.T, d *daemon, file string) []v1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := d.client.Events(ctx, "", "")
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	var out []v1.Event
	for _, e := range list.Items {
		if e.Reason == "InvalidManifest" && strings.HasPrefix(e.Message, filepath.Join(d.manifestDir, file)+":") {
			out = append(out, e)
		}
	}
	return out
}

// waitManifestEvent waits for the first InvalidManifest event naming file.
func waitManifestEvent(t *testing.T, d *daemon, file string, timeout time.Duration) v1.Event {
	t.Helper()
	var evs []v1.Event
	d.waitFor(timeout, "an InvalidManifest event naming "+file, func() (bool, string) {
		evs = manifestEvents(t, d, file)
		return len(evs) > 0, "none yet"
	})
	return evs[0]
}

// TestHostileManifests checks that a running daemon given an alias bomb, a
// document flood and a file of a thousand bad documents stays up, reports
// one InvalidManifest event per file naming it and why, and keeps running
// a good pod from another file, whose own events are all still there.
func TestHostileManifests(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("good.yaml", minimalPod("hostile-good"))
	d.waitRunning("default", "hostile-good")
	goodEvents := podEvents(t, d, "default", "hostile-good")

	for _, h := range hostileManifests {
		d.writeManifest(h.name, string(h.content()))
	}
	for _, h := range hostileManifests {
		ev := waitManifestEvent(t, d, h.name, 2*time.Minute)
		want := filepath.Join(d.manifestDir, h.name) + ": " + h.reason
		if ev.Type != v1.EventTypeWarning || !strings.HasPrefix(ev.Message, want) || len(ev.Message) > 1024 {
			t.Errorf("%s: event %s %q (%d bytes), want a Warning starting %q", h.name, ev.Type, ev.Message, len(ev.Message), want)
		}
	}
	// A rescan (20 s) and the cache must not add events or repeat them.
	time.Sleep(25 * time.Second)
	for _, h := range hostileManifests {
		if evs := manifestEvents(t, d, h.name); len(evs) != 1 || evs[0].Count != 1 {
			t.Errorf("%s: want one event, once; got %s", h.name, eventList(evs))
		}
	}
	if !d.alive() {
		t.Fatal("the daemon died over hostile manifests")
	}
	if p := d.waitRunning("default", "hostile-good"); p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("the good pod restarted: %s", summary(p))
	}
	after := podEvents(t, d, "default", "hostile-good")
	for _, e := range goodEvents {
		if findEvent(after, e.Type, e.Reason, e.Message) == nil {
			t.Errorf("the good pod's event %s %s %q is gone; events now:%s", e.Type, e.Reason, e.Message, eventList(after))
		}
	}
}
