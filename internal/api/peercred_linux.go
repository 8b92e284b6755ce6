package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// peer is who is on the other end of a unix connection.
type peer struct {
	uid, gid uint32
	groups   []uint32 // supplementary groups, when they could be read
	pid      int32
}

// peerOf reads SO_PEERCRED of a unix connection, and the peer's
// supplementary groups from /proc.
func peerOf(c net.Conn) (peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}, fmt.Errorf("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, err
	}
	if credErr != nil {
		return peer{}, credErr
	}
	p := peer{uid: cred.Uid, gid: cred.Gid, pid: cred.Pid}
	p.groups = procGroups(cred.Pid)
	return p, nil
}

// procGroups reads a process's supplementary groups (nil if it is gone).
func procGroups(pid int32) []uint32 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, g := range strings.Fields(rest) {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				out = append(out, uint32(n))
			}
		}
		return out
	}
	return nil
}

// peerCheckListener drops connections from peers the socket is not for,
// before a single byte is read from them, and hands on the others with
// their caller (peer and role) attached.
type peerCheckListener struct {
	net.Listener
	gid    int
	self   uint32
	logger *zap.Logger
}

// callerConn is an accepted connection and who is on its other end.
type callerConn struct {
	net.Conn
	caller caller
}

func (l *peerCheckListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := peerOf(c)
		if r := roleOf(p, l.self, l.gid); err == nil && r > roleNone {
			return &callerConn{Conn: c, caller: caller{peer: p, role: r}}, nil
		}
		l.logger.Warn("refused a connection from a peer outside the socket's group",
			zap.Uint32("uid", p.uid), zap.Uint32("gid", p.gid), zap.Int32("pid", p.pid), zap.Error(err))
		c.Close()
	}
}

// connContext puts a connection's caller into the context of each of its
// requests (http.Server.ConnContext).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*callerConn); ok {
		return withCaller(ctx, cc.caller)
	}
	return ctx
}
