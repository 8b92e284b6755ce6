package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
)

// Backend is what the server needs from the daemon.
type Backend interface {
	// Healthy returns nil while the daemon is serving, or why it is not.
	Healthy() error
	// ListPods returns every pod the daemon knows, with full status.
	ListPods() []v1.Pod
	// GetPod returns one pod, or false when it is unknown.
	GetPod(namespace, name string) (*v1.Pod, bool)
	// Events returns the events involving namespace/name; "" matches any.
	Events(namespace, name string) []v1.Event
	// ContainerLog returns the CRI log file of the container's current
	// attempt (previous: the attempt before) and a func that reports
	// whether that attempt has exited, for follow (nil: follow until the
	// client leaves; for a previous attempt it should always say true).
	// Unknown pods, containers and missing previous attempts are errors
	// wrapping ErrNotFound, with a message like the kubelet's: `previous
	// terminated container "c" in pod "p" not found`. A container with no
	// log yet may wrap ErrBadRequest.
	ContainerLog(namespace, pod, container string, previous bool) (path string, exited func() bool, err error)
}

// ServerOptions configure NewServer.
type ServerOptions struct {
	// Socket is the path of the unix socket to listen on.
	Socket string
	// Group is the group that owns the socket besides root; "" means root
	// only. A name or a numeric id.
	Group string
	// Backend answers the requests.
	Backend Backend
	// Metrics serves GET /metrics; nil answers 404.
	Metrics http.Handler
	// Logger receives request errors and recovered panics; nil discards.
	Logger *zap.Logger
}

const (
	// maxSocketPath is the size of sun_path minus its terminating NUL.
	maxSocketPath = 107
	// readHeaderTimeout bounds how long a client may take to send its
	// request; responses have no timeout because log follows are long-lived.
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Server serves the API on a unix socket.
type Server struct {
	socket string
	info   os.FileInfo // the socket file this server created
	ln     net.Listener
	srv    *http.Server
	logger *zap.Logger
	// cancel ends the requests still running (log follows) at Shutdown.
	cancel context.CancelFunc

	closeOnce sync.Once
}

// NewServer creates the socket and returns a server ready to Serve. The
// socket's directory is created (0755) if needed; the socket itself is mode
// 0660, owned by root and Group, and appears at its path only with those
// permissions already set. A stale socket (nothing accepts on it) is
// replaced; a live one is an error that names it.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Socket == "" {
		return nil, errors.New("api server: socket path is required")
	}
	if o.Backend == nil {
		return nil, errors.New("api server: backend is required")
	}
	logger := o.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	logger = logger.Named("api")

	ln, info, err := listenSocket(o.Socket, o.Group)
	if err != nil {
		return nil, err
	}
	gid, err := lookupGroup(o.Group)
	if err != nil {
		ln.Close()
		os.Remove(o.Socket)
		return nil, err
	}
	ln = &peerCheckListener{Listener: ln, gid: gid, self: uint32(os.Geteuid()), logger: logger}
	// net/http's own complaints (bad requests, handshake noise) go to the
	// log as warnings.
	errorLog, err := zap.NewStdLogAt(logger, zap.WarnLevel)
	if err != nil {
		ln.Close()
		os.Remove(o.Socket)
		return nil, fmt.Errorf("api server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{socket: o.Socket, info: info, ln: ln, logger: logger, cancel: cancel}
	h := &handlers{backend: o.Backend, metrics: o.Metrics, logger: logger}
	s.srv = &http.Server{
		Handler:           h.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          errorLog,
	}
	return s, nil
}

// Serve accepts connections until Shutdown. It returns nil after Shutdown.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve %s: %w", s.socket, err)
}

// Shutdown stops accepting connections, ends log follows, waits for the
// other requests until ctx is done (then closes what is left) and removes
// the socket file if it is still the one this server created.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	s.closeOnce.Do(func() {
		s.ln.Close()
		if fi, statErr := os.Lstat(s.socket); statErr == nil && os.SameFile(fi, s.info) {
			os.Remove(s.socket)
		}
	})
	return err
}

// listenSocket listens on path with mode 0660 and owner root:group. It
// binds a temporary name in the same directory, sets the permissions, then
// renames it into place, so there is no moment when the socket is open to
// more than it should be, and a stale socket is replaced atomically.
func listenSocket(path, group string) (net.Listener, os.FileInfo, error) {
	if len(path) > maxSocketPath {
		return nil, nil, fmt.Errorf("socket path %s is too long (%d bytes, at most %d)", path, len(path), maxSocketPath)
	}
	gid, err := lookupGroup(group)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := checkStale(path); err != nil {
		return nil, nil, err
	}

	tmp := filepath.Join(dir, "."+strconv.Itoa(os.Getpid())+".sock")
	if len(tmp) > maxSocketPath {
		tmp = path // no room for a temporary name: bind in place
	}
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The file is ours to remove, under its final name.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, os.FileInfo, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, nil, err
	}
	if err := os.Chmod(tmp, 0o660); err != nil {
		return fail(fmt.Errorf("chmod socket %s: %w", path, err))
	}
	if err := chownSocket(tmp, gid); err != nil {
		return fail(fmt.Errorf("chown socket %s: %w", path, err))
	}
	if tmp != path {
		if err := os.Rename(tmp, path); err != nil {
			return fail(fmt.Errorf("rename socket into place at %s: %w", path, err))
		}
		tmp = path
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("stat socket %s: %w", path, err))
	}
	return ln, info, nil
}

// checkStale returns nil when path is absent or a socket nobody accepts on
// (which the caller then replaces), and an error when something answers or
// when path is not a socket at all.
func checkStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; remove it or choose another --socket", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("socket %s is in use: is another minikubelet running?", path)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	return fmt.Errorf("cannot tell whether socket %s is in use: %w", path, err)
}

// lookupGroup resolves a group name or id; "" is root's group, -1 when not
// running as root (the socket then stays with the user's own group).
func lookupGroup(group string) (int, error) {
	if group == "" {
		if os.Geteuid() == 0 {
			return 0, nil
		}
		return -1, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		var idErr error
		if g, idErr = user.LookupGroupId(group); idErr != nil {
			return 0, fmt.Errorf("socket group %q: %w", group, err)
		}
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("socket group %q: bad gid %q", group, g.Gid)
	}
	return gid, nil
}

// chownSocket makes root the owner when running as root; otherwise only the
// group can change (to one the user belongs to).
func chownSocket(path string, gid int) error {
	uid := -1
	if os.Geteuid() == 0 {
		uid = 0
	}
	if uid == -1 && gid == -1 {
		return nil
	}
	return os.Chown(path, uid, gid)
}
