package pod

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minikubelet/minikubelet/internal/runtime"
)

// gracePeriod is the pod's terminationGracePeriodSeconds (default 30).
func (w *worker) gracePeriod() time.Duration {
	if g := w.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// terminate stops the pod gracefully and removes every trace of it: the
// containers get their stop signal in parallel and SIGKILL after the grace
// period, then the sandbox goes, then the pod's files and cgroup. It
// retries until nothing is left or the daemon stops.
func (w *worker) terminate(ctx context.Context) {
	now := metav1.NewTime(w.m.o.Clock.Now())
	w.deletedAt = &now
	for attempt := 0; ; attempt++ {
		obs, err := w.list(ctx)
		if err == nil {
			if attempt == 0 {
				w.report(obs, sandboxRunning(obs))
			}
			if err = w.teardown(ctx, obs); err == nil {
				w.m.o.Store.DeletePod(w.pod.UID)
				w.log.Info("pod terminated")
				return
			}
		}
		w.log.Error("terminate pod; will retry", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-w.m.o.Clock.After(2 * time.Second):
		}
	}
}

func (w *worker) teardown(ctx context.Context, obs observed) error {
	w.unprobeAll()
	grace := w.gracePeriod()
	deadline := w.m.o.Clock.Now().Add(grace)
	// App containers (and anything not a sidecar) stop together first;
	// sidecars then stop one by one in reverse order, so they serve the
	// app containers until those are gone, as the kubelet does.
	var sidecars []string
	for _, c := range w.pod.Spec.InitContainers {
		if isSidecar(&c) {
			sidecars = append([]string{c.Name}, sidecars...)
		}
	}
	isSidecarName := map[string]bool{}
	for _, n := range sidecars {
		isSidecarName[n] = true
	}
	var first []string
	for name := range obs.containers {
		if !isSidecarName[name] {
			first = append(first, name)
		}
	}
	if err := w.stopGroup(ctx, obs, first, grace); err != nil {
		return err
	}
	for _, name := range sidecars {
		// Sidecars share what is left of the pod's grace period.
		left := deadline.Sub(w.m.o.Clock.Now())
		if left < minStopGrace {
			left = minStopGrace
		}
		if err := w.stopGroup(ctx, obs, []string{name}, left); err != nil {
			return err
		}
	}
	for _, s := range obs.containers {
		for _, c := range s {
			if err := w.m.o.Runtime.RemoveContainer(ctx, c.ID); err != nil {
				return err
			}
		}
	}
	for _, sb := range obs.sandboxes {
		if err := w.m.o.Sandboxes.Stop(ctx, sb.ID); err != nil {
			return err
		}
		if err := w.m.o.Sandboxes.Remove(ctx, sb.ID); err != nil {
			return err
		}
	}
	return w.m.o.Sandboxes.Cleanup(string(w.pod.UID))
}

// stopGroup stops the running attempts of the named containers in
// parallel, each through its preStop hook.
func (w *worker) stopGroup(ctx context.Context, obs observed, names []string, grace time.Duration) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, name := range names {
		for _, c := range obs.containers[name] {
			if c.State != runtime.StateRunning {
				continue
			}
			wg.Add(1)
			go func(name string, c runtime.Container) {
				defer wg.Done()
				if err := w.killContainer(ctx, name, c, grace, "Stopping container "+name); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}(name, c)
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// removeLog deletes an attempt's log file and its rotated parts.
func removeLog(path string) {
	if path == "" {
		return
	}
	matches, _ := filepath.Glob(path + ".*")
	for _, p := range append(matches, path) {
		_ = os.Remove(p)
	}
}
