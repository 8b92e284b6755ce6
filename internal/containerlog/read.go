package containerlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// pollInterval is how often a follower looks for new data, a rotated file
// and the container's exit. A variable so tests can shorten it.
var pollInterval = 100 * time.Millisecond

// ReadOptions are the kubelet's /containerLogs query options.
type ReadOptions struct {
	// Follow keeps reading lines as they are written.
	Follow bool
	// TailLines, when set, starts at the last N lines of the current file.
	TailLines *int64
	// Timestamps prefixes every line with its RFC3339Nano timestamp.
	Timestamps bool
	// LimitBytes, when set, stops after that many bytes of output.
	LimitBytes *int64
	// SinceTime, when set, leaves out lines written before it.
	SinceTime *time.Time
}

// errLimit ends a read that reached LimitBytes.
var errLimit = errors.New("limit reached")

// Read writes the log at path to w: the content of each line, or
// "timestamp content" with Timestamps, with the P chunks of a long line
// joined. Only the current file is read, as the kubelet does.
//
// With Follow it keeps reading new lines, and follows the file across
// rotation, until ctx is done (it then returns ctx.Err()) or until stop,
// asked whenever there is no new data, reports that the container has
// exited; it then reads what is left and returns nil. stop may be nil.
//
// Output is buffered; when w has a Flush() error method (an HTTP response
// wrapped by the caller), Read calls it each time it has caught up with the
// file, so a follower sees new lines promptly.
//
// A missing file is an error that wraps fs.ErrNotExist.
func Read(ctx context.Context, path string, opts ReadOptions, w io.Writer, stop func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open container log: %w", err)
	}
	defer func() { f.Close() }()

	// Output is buffered and flushed whenever the reader has caught up with
	// the file, so a follower sees lines promptly without a write per line.
	bw := bufio.NewWriterSize(w, 32*1024)
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		if f, ok := w.(interface{ Flush() error }); ok {
			return f.Flush()
		}
		return nil
	}
	r := &logReader{opts: opts, w: bw, flush: flush}
	if opts.LimitBytes != nil {
		r.w = &limitWriter{w: bw, n: *opts.LimitBytes}
	}
	if opts.TailLines != nil {
		off, midLine, err := tailOffset(f, *opts.TailLines)
		if err != nil {
			return fmt.Errorf("tail container log: %w", err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("tail container log: %w", err)
		}
		// Starting inside a line (tail 0 while a long line is being
		// written): leave out the rest of it rather than print a fragment.
		r.midLine, r.skip = midLine, midLine
	}

	err = r.follow(ctx, &f, path, stop)
	if errors.Is(err, errLimit) {
		err = nil
	}
	if flushErr := flush(); err == nil {
		err = flushErr
	}
	return err
}

// follow reads f to its end, and with Follow keeps going.
// *fp is replaced when the file rotates; the caller closes the last one.
func (r *logReader) follow(ctx context.Context, fp **os.File, path string, stop func() bool) error {
	buf := make([]byte, 32*1024)
	drain := func() error {
		for {
			n, err := (*fp).Read(buf)
			if n > 0 {
				if err := r.feed(buf[:n]); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read container log: %w", err)
			}
		}
	}
	// switchFile moves to a file that replaced ours at path. The writer
	// closes the old file before renaming it, so draining it first loses
	// nothing.
	switchFile := func() (bool, error) {
		next, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("open rotated container log: %w", err)
		}
		cur, err1 := (*fp).Stat()
		nst, err2 := next.Stat()
		if err1 != nil || err2 != nil || os.SameFile(cur, nst) {
			next.Close()
			return false, nil
		}
		if err := drain(); err != nil {
			next.Close()
			return false, err
		}
		(*fp).Close()
		*fp = next
		r.pending = r.pending[:0]
		return true, nil
	}

	for {
		if err := drain(); err != nil {
			return err
		}
		if !r.opts.Follow {
			return nil
		}
		if err := r.flush(); err != nil {
			return err
		}
		switched, err := switchFile()
		if err != nil {
			return err
		}
		if switched {
			continue
		}
		if stop != nil && stop() {
			// The logger may still be writing the container's last output:
			// give it one more interval, then take what is there.
			if err := sleep(ctx, pollInterval); err != nil {
				return err
			}
			for {
				if err := drain(); err != nil {
					return err
				}
				if switched, err := switchFile(); err != nil || !switched {
					return err
				}
			}
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// logReader turns records into output. Records can arrive split across
// reads; the incomplete tail waits in pending.
type logReader struct {
	opts    ReadOptions
	w       io.Writer
	flush   func() error
	pending []byte
	midLine bool // inside a logical line: the last record was P
	skip    bool // the current logical line is left out
}

func (r *logReader) feed(data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			r.pending = append(r.pending, data...)
			return nil
		}
		line := data[:i]
		if len(r.pending) > 0 {
			r.pending = append(r.pending, line...)
			line = r.pending
		}
		err := r.record(line)
		r.pending = r.pending[:0]
		if err != nil {
			return err
		}
		data = data[i+1:]
	}
	return nil
}

// record writes one record. Malformed records are skipped, as the kubelet
// does, so one bad line does not hide the rest of the log.
func (r *logReader) record(line []byte) error {
	rec, err := parseRecord(line)
	if err != nil {
		return nil
	}
	if !r.midLine {
		r.skip = false
		if r.opts.SinceTime != nil {
			ts, err := rec.time()
			r.skip = err == nil && ts.Before(*r.opts.SinceTime)
		}
		if !r.skip && r.opts.Timestamps {
			if err := r.write(rec.timestamp, []byte{' '}); err != nil {
				return err
			}
		}
	}
	r.midLine = rec.partial
	if r.skip {
		return nil
	}
	if rec.partial {
		return r.write(rec.content)
	}
	return r.write(rec.content, []byte{'\n'})
}

func (r *logReader) write(parts ...[]byte) error {
	for _, p := range parts {
		if _, err := r.w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// tailOffset returns where the last n logical lines of f start, and whether
// that offset is inside a logical line (only when n is 0 and the file ends
// with P records).
func tailOffset(f *os.File, n int64) (int64, bool, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, false, err
	}
	var (
		starts  = make([]int64, 0, min(n, 1024))
		next    int // ring index of the oldest start once starts is full
		off     int64
		midLine bool
		br      = bufio.NewReaderSize(f, 64*1024)
	)
	for {
		line, err := br.ReadSlice('\n')
		size, tooLong := int64(len(line)), false
		for errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any record the writer makes: not a valid record,
			// but its bytes still count.
			tooLong = true
			line, err = br.ReadSlice('\n')
			size += int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			// An incomplete last record is not a line yet.
			break
		}
		if err != nil {
			return 0, false, err
		}
		if rec, perr := parseRecord(line[:len(line)-1]); perr == nil && !tooLong {
			if !midLine && n > 0 {
				if int64(len(starts)) < n {
					starts = append(starts, off)
				} else {
					starts[next] = off
					next = (next + 1) % len(starts)
				}
			}
			midLine = rec.partial
		}
		off += size
	}
	switch {
	case n == 0:
		return off, midLine, nil
	case int64(len(starts)) < n:
		return 0, false, nil
	default:
		return starts[next], false, nil
	}
}

// limitWriter fails with errLimit once n bytes have been written.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.n {
		n, err := l.w.Write(p[:l.n])
		l.n -= int64(n)
		if err == nil {
			err = errLimit
		}
		return n, err
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}
