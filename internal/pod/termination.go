package pod

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/containerlog"
	"github.com/minikubelet/minikubelet/internal/runtime"
	"github.com/minikubelet/minikubelet/internal/sandbox"
)

// Termination messages, as the kubelet has them: the container writes to
// terminationMessagePath (a host file per attempt, mounted there); at exit
// the daemon keeps what it wrote (or, with FallbackToLogsOnError and a
// failure, the end of its log) in a label, so the message survives the
// file and daemon restarts.
const (
	labelTerminationLog     = runtime.LabelPrefix + "termination-log"
	labelTerminationMessage = runtime.LabelPrefix + "termination-message"
	// maxTerminationMessage keeps the label within containerd's 4 KiB
	// limit for a label; the kubelet keeps 4 KiB of the file.
	maxTerminationMessage = 3 << 10
	// The kubelet's fallback: the last 80 lines, at most 2 KiB.
	fallbackLines = 80
	fallbackBytes = 2 << 10
)

// terminationLogPath is the host file of attempt id's termination
// message; "" for a container without terminationMessagePath.
func (s *syncer) terminationLogPath(c *v1.Container, id string) string {
	if c.TerminationMessagePath == "" {
		return ""
	}
	return filepath.Join(s.sandboxes.PodDir(string(s.pod.UID)), "termination", id)
}

// createTerminationLog makes the host file for an attempt's termination
// message. The file is world-writable, since the container may run as any
// user and reaches it through its bind mount; its directory is
// sandbox.PrivateDirMode, so no other host user can read, forge or grow a
// message from the host side.
func (s *syncer) createTerminationLog(c *v1.Container, id string) (string, error) {
	path := s.terminationLogPath(c, id)
	if path == "" {
		return "", nil
	}
	if err := sandbox.MkdirPrivate(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("termination message file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return "", fmt.Errorf("termination message file: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o666); err != nil {
		return "", fmt.Errorf("termination message file: %w", err)
	}
	return path, nil
}

// recordTerminationMessage stores an exited attempt's termination message.
func (s *syncer) recordTerminationMessage(ctx context.Context, a runtime.Container) {
	c, _ := containerByName(s.pod, a.Labels[runtime.LabelContainerName])
	if c == nil || a.Labels[labelTerminationMessage] != "" {
		return
	}
	msg := readCapped(a.Labels[labelTerminationLog], maxTerminationMessage)
	if msg == "" && c.TerminationMessagePolicy == v1.TerminationMessageFallbackToLogsOnError && a.ExitCode != 0 {
		msg = logTail(ctx, a.Labels[runtime.LabelLogPath])
	}
	if msg == "" {
		return
	}
	if err := s.rt.SetLabels(ctx, a.ID, map[string]string{labelTerminationMessage: msg}); err != nil {
		s.log.Warn("record termination message", zap.String("container", a.ID), zap.Error(err))
	}
}

func readCapped(path string, max int) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, int64(max)))
	return string(b)
}

// logTail is the end of an attempt's log for FallbackToLogsOnError.
func logTail(ctx context.Context, path string) string {
	if path == "" {
		return ""
	}
	var buf bytes.Buffer
	n := int64(fallbackLines)
	if err := containerlog.Read(ctx, path, containerlog.ReadOptions{TailLines: &n}, &buf, nil); err != nil {
		return ""
	}
	s := buf.String()
	if len(s) > fallbackBytes {
		s = s[len(s)-fallbackBytes:]
	}
	return strings.TrimRight(s, "\n")
}
