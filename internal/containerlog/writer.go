package containerlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Writer writes CRI log records to a file and rotates it. Several streams
// may be copied into one Writer at once; every record is written whole.
type Writer struct {
	spec  LoggerSpec
	clock func() time.Time

	mu sync.Mutex
	// f is the current file; nil after a rotation could not reopen it
	// (the next write tries again) or after Close.
	f      *os.File
	size   int64
	closed bool
}

// NewWriter opens (appending) or creates spec.Path and its parent
// directories. clock stamps the records; nil means time.Now.
func NewWriter(spec LoggerSpec, clock func() time.Time) (*Writer, error) {
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("logger spec: %w", err)
	}
	if clock == nil {
		clock = time.Now
	}
	w := &Writer{spec: spec.withDefaults(), clock: clock}
	if err := os.MkdirAll(filepath.Dir(spec.Path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.spec.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log file: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Stream copies r into the log as stream name ("stdout" or "stderr") until
// r reports EOF, one record per line. A line longer than 16 KiB becomes
// several P records and a line cut short by EOF ends with a P record.
//
// A failing write does not stop the copy: the container must never block on
// a full pipe because its log cannot be written. The first write error is
// returned once r is drained.
func (w *Writer) Stream(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLineSize)
	var rec []byte
	var writeErr error
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			tag := tagPartial
			if line[len(line)-1] == '\n' {
				tag, line = tagFull, line[:len(line)-1]
			}
			rec = appendRecord(rec[:0], w.clock(), name, tag, line)
			if werr := w.write(rec); werr != nil && writeErr == nil {
				writeErr = werr
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return writeErr
		default:
			return errors.Join(fmt.Errorf("read %s: %w", name, err), writeErr)
		}
	}
}

// write appends one record, rotating first when it would take the file past
// MaxSize. A record larger than MaxSize still goes into a file of its own.
func (w *Writer) write(rec []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	if w.f == nil {
		// A rotation could not reopen the file (a full disk, the
		// directory gone for a moment): try again, so the log resumes.
		if err := w.open(); err != nil {
			return err
		}
	}
	var rotateErr error
	if w.size > 0 && w.size+int64(len(rec)) > w.spec.MaxSize {
		// When rotation fails the record still goes into the current file:
		// a file past its size is better than a lost line.
		rotateErr = w.rotate()
		if w.f == nil {
			return rotateErr
		}
	}
	n, err := w.f.Write(rec)
	w.size += int64(n)
	if err != nil {
		return errors.Join(rotateErr, fmt.Errorf("write log file: %w", err))
	}
	return rotateErr
}

// rotate shifts path.N-1 ... path.1 up by one (dropping the oldest), renames
// the current file to path.1 and starts a new one. Readers that follow the
// file notice the rename and switch to the new file.
func (w *Writer) rotate() error {
	// The descriptor is released even when Close reports an error (a
	// delayed write error, EIO): go on with a new file either way.
	err := w.f.Close()
	if err != nil {
		err = fmt.Errorf("close log file for rotation: %w", err)
	}
	w.f = nil
	p := w.spec.Path
	keep := w.spec.MaxFiles - 1
	switch {
	case err != nil:
	case keep < 1:
		err = os.Remove(p)
	default:
		if rmErr := os.Remove(rotatedName(p, keep)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = rmErr
		}
		for i := keep - 1; i >= 1 && err == nil; i-- {
			if mvErr := os.Rename(rotatedName(p, i), rotatedName(p, i+1)); mvErr != nil && !errors.Is(mvErr, os.ErrNotExist) {
				err = mvErr
			}
		}
		if err == nil {
			err = os.Rename(p, rotatedName(p, 1))
		}
	}
	// Reopen whatever happened: without a file the log is lost for good.
	if openErr := w.open(); openErr != nil {
		return errors.Join(err, openErr)
	}
	if err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	return nil
}

func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// Close closes the file. Records written after Close fail with
// os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
