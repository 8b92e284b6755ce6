package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// mixedPod is one pod of TestMixedLoad: kind is crash, oom, probed or plain.
// The crashing pods exit 0.4 s apart, as crashes come on a real node: what
// is measured is whether a restart waits behind other pods' work, not how
// long 2 cores take to start eight containers at the same instant.
func mixedPod(kind string, i int) (name, manifest string) {
	name = fmt.Sprintf("%s-%d", kind, i)
	var body string
	switch kind {
	case "crash":
		body = `  restartPolicy: OnFailure
  containers:
  - name: main
    image: ` + busyboxRef + `
    command: ["sh", "-c", "sleep ` + fmt.Sprintf("%.1f", 2+0.4*float64(i)) + `; exit 3"]
`
	case "oom":
		body = `  restartPolicy: Never
  containers:
  - name: main
    image: ` + busyboxRef + `
    command: ["sh", "-c", "sleep 1; x=$(yes | head -c 67108864)"]
    resources:
      limits:
        memory: 20Mi
`
	case "probed":
		body = `  containers:
  - name: main
    image: ` + busyboxRef + `
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    livenessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
`
	default:
		body = `  containers:
  - name: main
    image: ` + busyboxRef + `
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
`
	}
	return name, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: load\nspec:\n  terminationGracePeriodSeconds: 2\n%s", name, body)
}

// TestMixedLoad starts 30 pods at once, crashing, OOMing, probed and plain,
// as an operator would on a small node, and checks what goes wrong only
// under load (issue 16): OOM kills reported as OOMKilled whatever order
// containerd's events come in, a crashing container's first restart
// within 2 s of its exit although other pods keep the daemon busy, and a
// removed pod leaving the API only once nothing of it is left in
// containerd.
func TestMixedLoad(t *testing.T) {
	d := startDaemon(t)
	kinds := map[string]int{"crash": 8, "oom": 6, "probed": 8, "plain": 8}
	var names []string
	for kind, n := range kinds {
		for i := 0; i < n; i++ {
			name, m := mixedPod(kind, i)
			names = append(names, name)
			d.writeManifest(name+".yaml", m)
		}
	}
	sort.Strings(names)

	byName := func() map[string]v1.Pod {
		list, err := d.listPods()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]v1.Pod{}
		for _, p := range list.Items {
			out[p.Name] = p
		}
		return out
	}
	d.waitFor(4*time.Minute, "every pod settled", func() (bool, string) {
		pods := byName()
		var pending []string
		for _, name := range names {
			p, ok := pods[name]
			if !ok || len(p.Status.ContainerStatuses) != 1 {
				pending = append(pending, name+":unlisted")
				continue
			}
			cs := p.Status.ContainerStatuses[0]
			var ok2 bool
			switch {
			case strings.HasPrefix(name, "crash-"):
				ok2 = cs.RestartCount >= 1
			case strings.HasPrefix(name, "oom-"):
				ok2 = p.Status.Phase == v1.PodFailed
			default:
				ok2 = p.Status.Phase == v1.PodRunning && cs.Ready
			}
			if !ok2 {
				pending = append(pending, name+":"+summary(&p))
			}
		}
		return len(pending) == 0, strings.Join(pending, "; ")
	})

	pods := byName()
	var gaps []time.Duration
	for _, name := range names {
		p := pods[name]
		switch {
		case strings.HasPrefix(name, "oom-"):
			term := p.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.Reason != "OOMKilled" {
				t.Errorf("%s: state %+v, want terminated OOMKilled", name, p.Status.ContainerStatuses[0].State)
			}
		case strings.HasPrefix(name, "crash-"):
			// Attempt 0 exited, attempt 1 started: the recorded times, to the
			// nanosecond, of the two containerd containers.
			var finished, started time.Time
			for _, c := range d.podContainers(string(p.UID)) {
				switch c.Labels["io.minikubelet.kind"] + "/" + c.Labels["io.minikubelet.attempt"] {
				case "container/0":
					finished, _ = time.Parse(time.RFC3339Nano, c.Labels["io.minikubelet.finished-at"])
				case "container/1":
					started, _ = time.Parse(time.RFC3339Nano, c.Labels["io.minikubelet.started-at"])
				}
			}
			if finished.IsZero() || started.IsZero() {
				t.Errorf("%s: no exit/start times of attempts 0 and 1 (finished %v, started %v)", name, finished, started)
			} else if gap := started.Sub(finished); gap > 2*time.Second {
				t.Errorf("%s: first restart %v after the exit, want within 2s", name, gap.Round(time.Millisecond))
			} else {
				gaps = append(gaps, gap)
			}
		}
	}

	if len(gaps) > 0 {
		sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
		t.Logf("exit to restarted, %d crashing pods: median %v, max %v", len(gaps),
			gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond))
	}

	// Remove half of them; a pod gone from the API has nothing left in
	// containerd.
	removed := map[string]string{}
	for i, name := range names {
		if i%2 == 0 {
			removed[name] = string(pods[name].UID)
			d.removeManifest(name + ".yaml")
		}
	}
	checked := map[string]bool{}
	d.waitFor(2*time.Minute, "the removed pods gone", func() (bool, string) {
		now := byName()
		for name, uid := range removed {
			if _, listed := now[name]; listed || checked[name] {
				continue
			}
			checked[name] = true
			if left := d.podContainers(uid); len(left) != 0 {
				t.Errorf("%s left the API with %d containers still in containerd", name, len(left))
			}
		}
		return len(checked) == len(removed), fmt.Sprintf("%d/%d gone", len(checked), len(removed))
	})
	for _, name := range names {
		if _, gone := removed[name]; gone {
			continue
		}
		if _, ok := byName()[name]; !ok {
			t.Errorf("%s is gone although its manifest stays", name)
		}
	}
}
