package manifest

import (
	"golang.org/x/sys/unix"
)

// maybeBeingWritten reports whether some process may still be writing the
// file at path. It is false only when the kernel says that no process has
// the file open for writing; whenever that cannot be told (the file is gone
// or is not a regular file, or its filesystem has no leases) it is true, and
// the caller waits for the directory to be quiet instead.
//
// The kernel grants a read lease only while no process, this one included,
// has the file open for writing (fcntl(2), F_SETLEASE): that is the question
// asked, and the lease is dropped at once. A writer opening the file in
// between waits for that drop, a few microseconds; the kernel's SIGIO
// telling this process to drop it is ignored by the Go runtime. Taking a
// lease on a file one does not own needs CAP_LEASE, which root has.
func maybeBeingWritten(path string) bool {
	f, st, err := openManifest(path)
	if err != nil {
		return true
	}
	defer f.Close()
	if !st.Mode().IsRegular() {
		return true
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return true
	}
	var leaseErr error
	if err := rc.Control(func(fd uintptr) {
		if _, leaseErr = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK); leaseErr == nil {
			_, _ = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
		}
	}); err != nil {
		return true
	}
	return leaseErr != nil
}
