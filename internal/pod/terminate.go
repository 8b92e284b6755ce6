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
func (s *syncer) gracePeriod() time.Duration {
	if g := s.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// terminate stops the pod gracefully and removes every trace of it: the
// containers get their stop signal in parallel and SIGKILL after the grace
// period, then the sandbox goes, then the pod's files and cgroup. It
// retries until nothing is left (then true) or the daemon stops.
func (s *syncer) terminate(ctx context.Context) bool {
	now := metav1.NewTime(s.clock.Now())
	s.deletedAt = &now
	for attempt := 0; ; attempt++ {
		obs, err := s.list(ctx)
		if err == nil {
			if attempt == 0 {
				s.report(obs, sandboxRunning(obs))
			}
			if err = s.teardown(ctx, obs); err == nil {
				s.store.DeletePod(s.pod.UID)
				s.log.Info("pod terminated")
				return true
			}
		}
		s.log.Error("terminate pod; will retry", zap.Error(err))
		select {
		case <-ctx.Done():
			return false
		case <-s.clock.After(2 * time.Second):
		}
	}
}

func (s *syncer) teardown(ctx context.Context, obs observed) error {
	s.unprobeAll()
	grace := s.gracePeriod()
	deadline := s.clock.Now().Add(grace)
	// App containers (and anything not a sidecar) stop together first;
	// sidecars then stop one by one in reverse order, so they serve the
	// app containers until those are gone, as the kubelet does.
	var sidecars []string
	for _, c := range s.pod.Spec.InitContainers {
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
	if err := s.stopGroup(ctx, obs, first, grace); err != nil {
		return err
	}
	for _, name := range sidecars {
		// Sidecars share what is left of the pod's grace period.
		left := deadline.Sub(s.clock.Now())
		if left < minStopGrace {
			left = minStopGrace
		}
		if err := s.stopGroup(ctx, obs, []string{name}, left); err != nil {
			return err
		}
	}
	for _, attempts := range obs.containers {
		for _, c := range attempts {
			if err := s.rt.RemoveContainer(ctx, c.ID); err != nil {
				return err
			}
		}
	}
	for _, sb := range obs.sandboxes {
		if err := s.sandboxes.Stop(ctx, sb.ID); err != nil {
			return err
		}
		if err := s.sandboxes.Remove(ctx, sb.ID); err != nil {
			return err
		}
	}
	return s.sandboxes.Cleanup(string(s.pod.UID))
}

// stopGroup stops the running attempts of the named containers in
// parallel, each through its preStop hook.
func (s *syncer) stopGroup(ctx context.Context, obs observed, names []string, grace time.Duration) error {
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
				if err := s.killContainer(ctx, name, c, grace, "Stopping container "+name); err != nil {
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
