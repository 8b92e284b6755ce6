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
	"golang.org/x/sys/unix"
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
	// KubeAPI serves /api, /apis and /version (the Kubernetes API subset,
	// internal/kubeapi) behind the socket's roles; nil answers 404.
	KubeAPI http.Handler
	// Kubeconfig issues a kubeconfig for role ("admin" or "view") naming
	// server ("" for the daemon's own TLS listener): POST /kubeconfig,
	// admin only. nil answers 404.
	Kubeconfig func(role, server string) ([]byte, error)

	// MaxLogFollowers caps the log follows (follow=true) served at once;
	// past it a follow gets a 429 Status (0: DefaultMaxLogFollowers).
	MaxLogFollowers int
	// MaxImageImportSize refuses an image import whose Content-Length is
	// larger (413) before a byte of it is read; the backend caps the
	// stream itself. 0: no early check.
	MaxImageImportSize int64
	// ReadTimeout is how long a request body (an image import) may go
	// without sending a byte before the connection is cut (0: 30 s).
	ReadTimeout time.Duration
	// WriteTimeout is how long one write of a streamed response (logs,
	// profiles) may take before the connection is cut: a client that
	// stops reading (0: 30 s).
	WriteTimeout time.Duration
}

// DefaultMaxLogFollowers is ServerOptions.MaxLogFollowers' default.
const DefaultMaxLogFollowers = 100

const (
	// maxSocketPath is the size of sun_path minus its terminating NUL.
	maxSocketPath = 107
	// readHeaderTimeout bounds how long a client may take to send its
	// request headers. Bodies and responses have no overall timeout (an
	// import may be large, a log follow lasts): ReadTimeout and
	// WriteTimeout bound each read and write instead.
	readHeaderTimeout   = 10 * time.Second
	idleTimeout         = 2 * time.Minute
	defaultReadTimeout  = 30 * time.Second
	defaultWriteTimeout = 30 * time.Second
)

// Server serves the API on a unix socket.
type Server struct {
	socket string
	info   fileID // the socket file this server created
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
	h := newHandlers(o, logger)
	s.srv = &http.Server{
		Handler:           h.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       connContext,
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
		if s.info.sameFile(s.socket) {
			os.Remove(s.socket)
		}
	})
	return err
}

// listenSocket listens on path with mode 0660 and owner root:group. The
// socket is bound in a new private directory (0700, created next to path
// so the rename stays on one filesystem), its mode and owner are set
// through that directory's file descriptor, and it is then renamed into
// place: there is no moment when the socket is open to more than it should
// be, a stale socket is replaced atomically, and nothing is done by a path
// another user could swap for a link (a socket directory writable by
// others cannot make the daemon chmod or chown another file).
//
// fchmod and fchown on the listener's own fd would not do: they change the
// socket's inode in sockfs, not the file bind created, whose mode is what
// connect checks.
func listenSocket(path, group string) (net.Listener, fileID, error) {
	if len(path) > maxSocketPath {
		return nil, fileID{}, fmt.Errorf("socket path %s is too long (%d bytes, at most %d)", path, len(path), maxSocketPath)
	}
	gid, err := lookupGroup(group)
	if err != nil {
		return nil, fileID{}, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fileID{}, fmt.Errorf("create socket directory: %w", err)
	}
	if err := checkStale(path); err != nil {
		return nil, fileID{}, err
	}

	private, err := os.MkdirTemp(dir, ".minikubelet-sock-")
	if err != nil {
		return nil, fileID{}, fmt.Errorf("create socket %s: %w", path, err)
	}
	// The directory goes (by its name; if that was swapped, only the
	// swapped-in entry goes) whatever happens: the socket leaves it by
	// rename.
	defer os.Remove(private)
	dfd, err := openPrivateDir(private)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("create socket %s: %w", path, err)
	}
	defer unix.Close(dfd)
	const name = "s"
	// Bound through the descriptor, so the socket is made in this very
	// directory even if its name now leads elsewhere.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name), Net: "unix"})
	if err != nil {
		return nil, fileID{}, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The file is ours to remove, under its final name.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, fileID, error) {
		ln.Close()
		unix.Unlinkat(dfd, name, 0)
		return nil, fileID{}, err
	}
	afterBind(private)
	// Only root can make entries in the private directory, so name is
	// the socket just bound.
	if err := unix.Fchmodat(dfd, name, 0o660, 0); err != nil {
		return fail(fmt.Errorf("chmod socket %s: %w", path, err))
	}
	if err := chownSocket(dfd, name, gid); err != nil {
		return fail(fmt.Errorf("chown socket %s: %w", path, err))
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(fmt.Errorf("stat socket %s: %w", path, err))
	}
	if err := unix.Renameat(dfd, name, unix.AT_FDCWD, path); err != nil {
		return fail(fmt.Errorf("rename socket into place at %s: %w", path, err))
	}
	return ln, fileID{dev: st.Dev, ino: st.Ino}, nil
}

// afterBind is called with the private directory once the socket is bound
// in it, before its permissions are set; tests swap the directory there.
var afterBind = func(string) {}

// openPrivateDir opens the directory MkdirTemp just made and checks that
// it is still that: a directory (not a link) owned by this user with mode
// 0700, which no other user can create or fill.
func openPrivateDir(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Uid != uint32(os.Geteuid()) || st.Mode&0o777 != 0o700 {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is not the private directory just created (owner %d, mode %o)", path, st.Uid, st.Mode&0o777)
	}
	return fd, nil
}

// fileID identifies a file by device and inode, which a rename keeps: the
// socket this server created, so Shutdown can tell it from a file that
// replaced it.
type fileID struct{ dev, ino uint64 }

// sameFile reports whether path (not followed) is the file id names.
func (id fileID) sameFile(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Dev == id.dev && st.Ino == id.ino
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
// group can change (to one the user belongs to). name is in dirfd and is
// not followed if it is a link.
func chownSocket(dirfd int, name string, gid int) error {
	uid := -1
	if os.Geteuid() == 0 {
		uid = 0
	}
	if uid == -1 && gid == -1 {
		return nil
	}
	return unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}
