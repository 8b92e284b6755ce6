package containerlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loggerEnv makes the test binary act as `minikubelet __logger SPEC`, so the
// tests below can start it the way the containerd shim does.
const loggerEnv = "MINIKUBELET_CONTAINERLOG_TEST_LOGGER"

func TestMain(m *testing.M) {
	if os.Getenv(loggerEnv) == "1" {
		if len(os.Args) != 3 || os.Args[1] != LoggerArg {
			fmt.Fprintf(os.Stderr, "usage: %s %s SPEC\n", os.Args[0], LoggerArg)
			os.Exit(2)
		}
		err := RunLogger(os.Args[2])
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	pollInterval = 10 * time.Millisecond
	os.Exit(m.Run())
}

// shimLogger is a logger process started like the runc shim's NewBinaryIO
// does: stdout pipe on fd 3, stderr pipe on fd 4, ready pipe on fd 5.
type shimLogger struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File // write ends, the container's side
	ready          *os.File // read end
	stderrText     strings.Builder
	exited         chan struct{} // closed once Wait returned exitErr
	exitErr        error
}

func startShimLogger(t *testing.T, spec string) *shimLogger {
	t.Helper()
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		return r, w
	}
	outR, outW := pipe()
	errR, errW := pipe()
	readyR, readyW := pipe()

	l := &shimLogger{stdout: outW, stderr: errW, ready: readyR, exited: make(chan struct{})}
	l.cmd = exec.Command(os.Args[0], LoggerArg, spec)
	l.cmd.Env = append(os.Environ(), loggerEnv+"=1", "CONTAINER_ID=c1", "CONTAINER_NAMESPACE=minikubelet")
	l.cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	l.cmd.Stderr = &l.stderrText
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		l.exitErr = l.cmd.Wait()
		close(l.exited)
	}()
	// As the shim does: only the logger keeps these ends.
	outR.Close()
	errR.Close()
	readyW.Close()
	t.Cleanup(func() {
		outW.Close()
		errW.Close()
		readyR.Close()
		l.cmd.Process.Kill()
		<-l.exited
	})
	return l
}

// waitReady reads the ready pipe as a binary-v2 shim does: ready means one
// byte, then EOF.
func (l *shimLogger) waitReady(t *testing.T) bool {
	t.Helper()
	b, err := io.ReadAll(l.ready)
	if err != nil {
		t.Fatalf("read ready pipe: %v", err)
	}
	return len(b) == 1 && b[0] == 0
}

// wait returns what the logger wrote to stderr and its exit error.
func (l *shimLogger) wait(t *testing.T) (stderr string, err error) {
	t.Helper()
	select {
	case <-l.exited:
		return l.stderrText.String(), l.exitErr
	case <-time.After(15 * time.Second):
		t.Fatal("logger did not exit")
		return "", nil
	}
}

func (l *shimLogger) running() bool {
	select {
	case <-l.exited:
		return false
	default:
		return true
	}
}

func TestRunLoggerAsShim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pods", "c", "0.log")
	l := startShimLogger(t, LoggerSpec{Path: path}.Encode())
	if !l.waitReady(t) {
		stderr, _ := l.wait(t)
		t.Fatalf("logger did not signal ready; stderr: %s", stderr)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("log file not created before ready: %v", err)
	}
	fmt.Fprint(l.stdout, "out 1\nout 2\n")
	fmt.Fprint(l.stderr, "err 1\n")
	fmt.Fprint(l.stdout, "no newline")
	l.stdout.Close()

	// With one stream still open the logger must keep running.
	time.Sleep(50 * time.Millisecond)
	if !l.running() {
		t.Fatal("logger exited before stderr reached EOF")
	}
	fmt.Fprint(l.stderr, "err 2\n")
	l.stderr.Close()

	if stderr, err := l.wait(t); err != nil {
		t.Fatalf("logger exit: %v; stderr: %s", err, stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.SplitN(line, " ", 4)
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Errorf("bad timestamp in %q", line)
		}
		got = append(got, strings.Join(f[1:], " "))
	}
	// The two streams are copied concurrently: compare per stream.
	byStream := map[string][]string{}
	for _, g := range got {
		s, rest, _ := strings.Cut(g, " ")
		byStream[s] = append(byStream[s], rest)
	}
	if want := "F out 1|F out 2|P no newline"; strings.Join(byStream["stdout"], "|") != want {
		t.Errorf("stdout records %q, want %q", byStream["stdout"], want)
	}
	if want := "F err 1|F err 2"; strings.Join(byStream["stderr"], "|") != want {
		t.Errorf("stderr records %q, want %q", byStream["stderr"], want)
	}
}

// TestRunLoggerDrainsAfterSIGTERM: the shim sends SIGTERM when it closes
// the IO; output still in the pipes must reach the file.
func TestRunLoggerDrainsAfterSIGTERM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	l := startShimLogger(t, LoggerSpec{Path: path}.Encode())
	if !l.waitReady(t) {
		stderr, _ := l.wait(t)
		t.Fatalf("not ready; stderr: %s", stderr)
	}
	fmt.Fprint(l.stdout, "before\n")
	if err := l.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	fmt.Fprint(l.stdout, "after\n")
	l.stdout.Close()
	l.stderr.Close()
	if stderr, err := l.wait(t); err != nil {
		t.Fatalf("logger exit: %v; stderr: %s", err, stderr)
	}
	if got := readAll(t, path, ReadOptions{}); got != "before\nafter\n" {
		t.Errorf("log = %q", got)
	}
}

func TestRunLoggerFailures(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, spec, wantStderr string
		wantCode               int
	}{
		{"bad spec", "path=relative", "must be absolute", 3},
		{"cannot create file", LoggerSpec{Path: filepath.Join(blocker, "0.log")}.Encode(), "create log directory", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startShimLogger(t, tt.spec)
			if l.waitReady(t) {
				t.Error("logger signalled ready")
			}
			stderr, err := l.wait(t)
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != tt.wantCode {
				t.Errorf("exit = %v, want code %d", err, tt.wantCode)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want %q", stderr, tt.wantStderr)
			}
		})
	}
}
