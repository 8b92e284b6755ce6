package daemon

import (
	"strings"
	"testing"
)

func TestPlanContainerd(t *testing.T) {
	const conf, emb = "/run/containerd/containerd.sock", "/var/lib/minikubelet/containerd/containerd.sock"
	base := containerdFacts{configured: conf, embeddedAddr: emb, mayEmbed: true}
	for _, tc := range []struct {
		name     string
		change   func(*containerdFacts)
		embedded bool
		wait     string // a part of the reason; "" means no wait
		warn     string // a part of the warning
	}{
		{name: "configured answers", change: func(f *containerdFacts) { f.answers = true }},
		{name: "fresh node, nothing at the address", change: func(*containerdFacts) {}, embedded: true},
		{name: "fresh node, embedding not allowed", change: func(f *containerdFacts) { f.mayEmbed = false },
			wait: "no embedded containerd may be started"},
		{name: "socket exists but does not answer", change: func(f *containerdFacts) { f.socketExists = true },
			wait: "a socket exists at containerd address " + conf},
		{name: "recorded containerd down, socket gone", change: func(f *containerdFacts) { f.owner = conf },
			wait: "containerd at " + conf + " does not answer; this node's pods run there"},
		{name: "no record but pods from before the record existed", change: func(f *containerdFacts) { f.hadPods = true },
			wait: "this node's pods run there"},
		{name: "pods in the embedded containerd", change: func(f *containerdFacts) { f.owner = emb }, embedded: true},
		{name: "embedded root from before the record existed", change: func(f *containerdFacts) { f.embeddedUsed, f.hadPods = true, true }, embedded: true},
		{name: "pods in the embedded containerd while another answers", change: func(f *containerdFacts) { f.owner, f.answers = emb, true },
			embedded: true, warn: "keeping that one"},
		{name: "pods in the embedded containerd, now disabled", change: func(f *containerdFacts) { f.owner, f.answers, f.mayEmbed = emb, true, false },
			warn: "embedded containerd, which is disabled now"},
		{name: "pods in the embedded containerd, disabled, nothing answers", change: func(f *containerdFacts) { f.owner, f.mayEmbed = emb, false },
			wait: "does not answer"},
		{name: "configured address changed", change: func(f *containerdFacts) { f.owner, f.answers = "/other.sock", true },
			warn: "ran in the containerd at /other.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.change(&f)
			p := planContainerd(f)
			if p.embedded != tc.embedded {
				t.Errorf("embedded = %v, want %v (plan %+v)", p.embedded, tc.embedded, p)
			}
			if (tc.wait == "") != (p.wait == "") || !strings.Contains(p.wait, tc.wait) {
				t.Errorf("wait = %q, want one containing %q", p.wait, tc.wait)
			}
			if p.embedded && p.wait != "" {
				t.Errorf("both embedded and waiting: %+v", p)
			}
			if (tc.warn == "") != (p.warn == "") || !strings.Contains(p.warn, tc.warn) {
				t.Errorf("warn = %q, want one containing %q", p.warn, tc.warn)
			}
		})
	}
}

func TestOwnerRecord(t *testing.T) {
	dir := t.TempDir()
	if got, err := readOwner(dir); err != nil || got != "" {
		t.Fatalf("no record: %q, %v", got, err)
	}
	if err := writeOwner(dir, "/run/c.sock"); err != nil {
		t.Fatal(err)
	}
	if got, err := readOwner(dir); err != nil || got != "/run/c.sock" {
		t.Fatalf("after write: %q, %v", got, err)
	}
}
