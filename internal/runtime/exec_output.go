package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// cappedBuffer keeps the first max bytes written and drops the rest, but
// always accepts writes so the process never blocks on a full pipe. Only
// execOutput's copy goroutine writes to it, and it is read after that
// goroutine is done, so it needs no lock.
type cappedBuffer struct {
	max int
	buf []byte
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// maxFreeExecFIFOs bounds the FIFOs kept for reuse: the most execs that
// ran at once. That can be every exec-probed container: the prober does
// not spread first probes over the period, so containers started together
// probe together. Each kept FIFO costs a descriptor and an inode.
const maxFreeExecFIFOs = 64

// execFIFOs makes and recycles the FIFOs exec'd processes write their
// output to.
//
// Exec used containerd's cio FIFO set, which per exec made a temporary
// directory and a FIFO per stream, opened each with a blocking open on a
// goroutine of its own (an OS thread each), ran a copy goroutine per
// stream and removed the directory again: about a fifth of the daemon's
// CPU per exec probe. Even one mkfifo and unlink per exec was a fifth of
// what remained, where /run is not a tmpfs. So an exec gets one FIFO for
// stdout and stderr both (the runc shim accepts the same path twice), and
// a FIFO whose exec ended cleanly is used again.
//
// A FIFO is only reused once its process is deleted and its copy read end
// of file: every writer the shim opened is closed and the pipe is empty,
// and no shim opens it again (a shim opens an exec's FIFOs when it starts
// the exec). Anything else (a timeout, an error, a child left holding the
// output) discards it. FIFOs left by a daemon that died are empty files
// in the directory, as cio leaves its own.
type execFIFOs struct {
	dir    string
	prefix string

	mu     sync.Mutex
	free   []*execFIFO
	closed bool
}

// execFIFO is one FIFO with our read end open. The read end stays open
// while it waits in the pool, so the FIFO's buffer outlives its writers.
type execFIFO struct {
	path string
	r    *os.File
}

func newExecFIFOs(dir, prefix string) *execFIFOs {
	return &execFIFOs{dir: dir, prefix: prefix}
}

// get returns a free FIFO, or makes one.
func (p *execFIFOs) get() (*execFIFO, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return f, nil
	}
	p.mu.Unlock()
	path := filepath.Join(p.dir, p.prefix+randomID())
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		if !errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("make exec output fifo: %w", err)
		}
		// The directory is made on first use (containerd's client does the
		// same), and /run may have been emptied since.
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			return nil, fmt.Errorf("make exec output fifo: %w", err)
		}
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return nil, fmt.Errorf("make exec output fifo: %w", err)
		}
	}
	// O_NONBLOCK: a FIFO's read end otherwise blocks in open until a
	// writer comes, and Go reads it through the netpoller, not a thread.
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("open exec output fifo: %w", err)
	}
	return &execFIFO{path: path, r: r}, nil
}

// put keeps f for another exec; the caller guarantees it is drained and
// has no writer left.
func (p *execFIFOs) put(f *execFIFO) {
	p.mu.Lock()
	if !p.closed && len(p.free) < maxFreeExecFIFOs {
		p.free = append(p.free, f)
		f = nil
	}
	p.mu.Unlock()
	if f != nil {
		f.discard()
	}
}

// removeStale removes FIFOs with the pool's prefix that a daemon before
// this one left (it died with FIFOs in its pool): the prefix names this
// namespace of this containerd, so none of them can be in use by another.
// A shim still writing to one keeps its open end; only the name goes.
func (p *execFIFOs) removeStale() (int, error) {
	matches, err := filepath.Glob(filepath.Join(p.dir, p.prefix+"*"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range matches {
		if st, err := os.Lstat(m); err == nil && st.Mode()&os.ModeNamedPipe != 0 && os.Remove(m) == nil {
			n++
		}
	}
	return n, nil
}

// close removes the free FIFOs; FIFOs in use are removed when released.
func (p *execFIFOs) close() {
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.mu.Unlock()
	for _, f := range free {
		f.discard()
	}
}

func (f *execFIFO) discard() {
	_ = f.r.Close()
	_ = os.Remove(f.path)
}

// execOutput collects one exec'd process's combined output from a FIFO.
type execOutput struct {
	pool *execFIFOs
	fifo *execFIFO
	// w is a write end of our own, held until the process has exited: a
	// FIFO read end with no writer reads as end of file, so without it the
	// copy could end before the shim has opened its end. A bare
	// descriptor, nothing goes through it; -1 once closed.
	w   int
	out cappedBuffer
	// done closes when copy returns; eof tells whether it read end of file
	// (rather than the read end being closed under it).
	done chan struct{}
	eof  bool
	// stopped: the read end was closed to stop the copy; the FIFO is
	// not reused. released: release has run.
	stopped, released bool
}

// newExecOutput takes a FIFO from pool and starts copying what is written
// to it, keeping the first max bytes.
func newExecOutput(pool *execFIFOs, max int) (*execOutput, error) {
	f, err := pool.get()
	if err != nil {
		return nil, err
	}
	// Does not block: our read end is open.
	w, err := syscall.Open(f.path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		// A free FIFO removed from the directory behind our back.
		f.discard()
		if f, err = pool.get(); err != nil {
			return nil, err
		}
		if w, err = syscall.Open(f.path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0); err != nil {
			f.discard()
			return nil, fmt.Errorf("open exec output fifo: %w", err)
		}
	}
	o := &execOutput{pool: pool, fifo: f, w: w, out: cappedBuffer{max: max}, done: make(chan struct{})}
	go o.copy()
	return o, nil
}

// path is what the shim opens for the process's stdout and stderr.
func (o *execOutput) path() string { return o.fifo.path }

// copy drains the FIFO until every writer has closed it or the read end is
// closed, so the process never blocks on a full pipe whatever it prints.
func (o *execOutput) copy() {
	defer close(o.done)
	// Probe output is small; 4 KiB is PIPE_BUF, what the shim writes at once.
	buf := make([]byte, 4096)
	for {
		n, err := o.fifo.r.Read(buf)
		_, _ = o.out.Write(buf[:n])
		if err != nil {
			o.eof = err == io.EOF
			return
		}
	}
}

// exited drops our own write end once the process is gone: from then on
// end of file means the shim has written everything.
func (o *execOutput) exited() {
	if o.w >= 0 {
		_ = syscall.Close(o.w)
		o.w = -1
	}
}

// wait waits until the shim has closed its end (all output read) or until
// giveUp fires: a process that left a child behind holding its stdout
// keeps the FIFO open. It reports whether all output was read.
func (o *execOutput) wait(giveUp <-chan struct{}) bool {
	select {
	case <-o.done:
		return true
	case <-giveUp:
		return false
	}
}

// finish stops the copy, if it is still going, and returns the output.
func (o *execOutput) finish() []byte {
	o.exited()
	select {
	case <-o.done:
	default:
		// Closing the read end makes the pending Read return.
		o.stopped = true
		_ = o.fifo.r.Close()
		<-o.done
	}
	return o.out.buf
}

// release gives the FIFO back for reuse when the process is deleted
// (deleted) and its output was read to the end, else removes it. Later
// calls do nothing.
func (o *execOutput) release(deleted bool) {
	if o.released {
		return
	}
	o.released = true
	o.finish()
	if deleted && o.eof && !o.stopped {
		o.pool.put(o.fifo)
		return
	}
	o.fifo.discard()
}
