package containerlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/containerd/containerd/v2/core/runtime/v2/logging"
)

// drainGrace is how long the logger keeps copying after the shim's SIGTERM.
// The shim closes its ends of the pipes before signalling, so EOF normally
// follows at once; the grace only matters when something in the container
// still holds a pipe open. It stays below the shim's 12 s before SIGKILL.
const drainGrace = 10 * time.Second

// RunLogger is the body of `minikubelet __logger SPEC`, run by the
// containerd shim with the container's stdout on fd 3, stderr on fd 4 and
// the ready pipe on fd 5. It opens the log file, signals ready, and copies
// both streams into the file until both reach EOF.
//
// On success it does not return: containerd's logging.Run exits the process
// (status 0, or 1 with the error on stderr). It returns only when spec does
// not decode. When the log file cannot be opened the logger exits without
// signalling ready.
func RunLogger(spec string) error {
	s, err := DecodeLoggerSpec(spec)
	if err != nil {
		return err
	}
	logging.Run(func(ctx context.Context, cfg *logging.Config, ready func() error) error {
		return runLogger(ctx, s, cfg.Stdout, cfg.Stderr, ready)
	})
	return nil
}

// runLogger is RunLogger without the process plumbing. Cancelling ctx (the
// shim's SIGTERM) does not stop the copy: output already in the pipes is
// still written, for at most drainGrace.
func runLogger(ctx context.Context, s LoggerSpec, stdout, stderr io.Reader, ready func() error) error {
	w, err := NewWriter(s, nil)
	if err != nil {
		return err
	}
	if err := ready(); err != nil {
		w.Close()
		return fmt.Errorf("signal ready: %w", err)
	}
	errs := make(chan error, 2)
	go func() { errs <- w.Stream("stdout", stdout) }()
	go func() { errs <- w.Stream("stderr", stderr) }()

	var result []error
	var grace <-chan time.Time
	for pending := 2; pending > 0; {
		select {
		case err := <-errs:
			pending--
			result = append(result, err)
		case <-ctx.Done():
			if grace == nil {
				grace = time.After(drainGrace)
			}
			ctx = context.Background()
		case <-grace:
			result = append(result, errors.New("streams still open after SIGTERM grace period"))
			pending = 0
		}
	}
	return errors.Join(append(result, w.Close())...)
}
