package api

import (
	"bufio"
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

// allowedPeer is the socket's rule on top of its file mode: root, the
// daemon's own user, or a member of the socket's group (primary or
// supplementary). Checking the kernel's peer credentials too means a
// socket file whose mode was loosened by mistake still lets nobody else in.
func allowedPeer(p peer, selfUID uint32, gid int) bool {
	if p.uid == 0 || p.uid == selfUID {
		return true
	}
	if gid < 0 {
		return false
	}
	if p.gid == uint32(gid) {
		return true
	}
	for _, g := range p.groups {
		if g == uint32(gid) {
			return true
		}
	}
	return false
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
// before a single byte is read from them.
type peerCheckListener struct {
	net.Listener
	gid    int
	self   uint32
	logger *zap.Logger
}

func (l *peerCheckListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := peerOf(c)
		if err == nil && allowedPeer(p, l.self, l.gid) {
			return c, nil
		}
		l.logger.Warn("refused a connection from a peer outside the socket's group",
			zap.Uint32("uid", p.uid), zap.Uint32("gid", p.gid), zap.Int32("pid", p.pid), zap.Error(err))
		c.Close()
	}
}
