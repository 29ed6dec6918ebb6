package filewatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/connectors/internal/linesource"
)

// maxLineBytes bounds a line, and so the memory a line without a newline
// can take: a longer one fails the stage (it is not a text file, or not
// the format configured). A variable so that tests can lower it.
var maxLineBytes = 64 << 20

// tailer is the reading side of file.watch, on its own goroutine: it
// follows one path like tail -F and sends every complete line (with its
// newline) to out, in file order.
//
// The position is the open file's offset. When the end of the open file
// is reached, the path is examined: another file there (rotation) is read
// from its start once the old one has been read to its end; a file shorter
// than the offset (truncation) is read again from its start; a path that
// disappeared leaves the old file open until a new one appears.
type tailer struct {
	path    string
	fromEnd bool // the first file opened at the start is read from its end
	out     chan<- linesource.Line
	read    *atomic.Int64 // bytes read, for the stage's metrics
	maxLine int

	tried   bool // the path was looked at once (from = "end" applies to that look only)
	f       *os.File
	info    os.FileInfo
	off     int64  // bytes of f consumed
	lineOff int64  // offset in f of the held partial line
	partial []byte // the last line read, still without its newline
	buf     []byte
}

func newTailer(path string, fromEnd bool, out chan<- linesource.Line, read *atomic.Int64) *tailer {
	if read == nil {
		read = new(atomic.Int64)
	}
	return &tailer{path: path, fromEnd: fromEnd, out: out, read: read, maxLine: maxLineBytes, buf: make([]byte, 256<<10)}
}

// run polls the path every interval on clk until ctx ends (follow) or,
// without follow, once: the file is read to its current end and a last
// line without a newline is taken as complete.
func (t *tailer) run(ctx context.Context, clk clock.Clock, interval time.Duration, follow bool) error {
	defer t.close()
	for {
		if err := t.poll(ctx); err != nil {
			return err
		}
		if !follow {
			if t.f == nil {
				return fmt.Errorf("file.watch: %s does not exist", t.path)
			}
			return t.flushPartial(ctx)
		}
		timer := clk.Timer(interval)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil
		}
	}
}

// poll reads everything the path offers now: the open file's new lines,
// then, once its end is reached, the file a rotation put at the path or
// the truncated file from its start. It returns when there is nothing more
// to read (or the path names no file yet).
func (t *tailer) poll(ctx context.Context) error {
	for {
		if t.f == nil {
			first := !t.tried
			t.tried = true
			if err := t.open(first && t.fromEnd); err != nil || t.f == nil {
				return err
			}
		}
		if err := t.readAvailable(ctx); err != nil {
			return err
		}
		changed, err := t.check(ctx)
		if err != nil || !changed {
			return err
		}
	}
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// open opens the path if it names a file, at its end when atEnd.
func (t *tailer) open(atEnd bool) error {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("file.watch: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file.watch: %w", err)
	}
	t.f, t.info, t.off, t.lineOff, t.partial = f, info, 0, 0, t.partial[:0]
	if atEnd {
		if t.off, err = f.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("file.watch: %w", err)
		}
		t.lineOff = t.off
	}
	return nil
}

// readAvailable reads the open file to its current end and sends its whole
// lines.
func (t *tailer) readAvailable(ctx context.Context) error {
	for {
		n, err := t.f.Read(t.buf)
		if n > 0 {
			t.read.Add(int64(n))
			if err := t.split(ctx, t.buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF || (n == 0 && err == nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("file.watch: reading %s: %w", t.path, err)
		}
	}
}

// split sends the whole lines of data, the first one completing the held
// partial line, and holds what follows the last newline.
func (t *tailer) split(ctx context.Context, data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(t.partial)+len(data) > t.maxLine {
				return t.tooLong()
			}
			t.partial = append(t.partial, data...)
			t.off += int64(len(data))
			return nil
		}
		if len(t.partial)+i+1 > t.maxLine {
			return t.tooLong()
		}
		line := make([]byte, 0, len(t.partial)+i+1)
		line = append(append(line, t.partial...), data[:i+1]...)
		t.partial = t.partial[:0]
		t.off += int64(i + 1)
		t.lineOff = t.off
		data = data[i+1:]
		if err := t.send(ctx, line); err != nil {
			return err
		}
	}
	return nil
}

func (t *tailer) tooLong() error {
	return fmt.Errorf("file.watch: %s: the line at byte %d is longer than %d bytes (not a text file?)", t.path, t.lineOff, t.maxLine)
}

// flushPartial sends the held partial line as a complete one.
func (t *tailer) flushPartial(ctx context.Context) error {
	if len(t.partial) == 0 {
		return nil
	}
	line := append([]byte(nil), t.partial...)
	t.partial = t.partial[:0]
	t.lineOff = t.off
	return t.send(ctx, line)
}

func (t *tailer) send(ctx context.Context, line []byte) error {
	select {
	case t.out <- linesource.Line{Data: line}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// check examines the path once the open file's end was reached. changed
// reports that there is a file to read at once: another one (rotation,
// then open) or the same one, shorter (truncation, then rewound).
func (t *tailer) check(ctx context.Context) (changed bool, err error) {
	info, err := os.Stat(t.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil // removed: keep the old file until a new one appears
	case err != nil:
		return false, fmt.Errorf("file.watch: %w", err)
	}
	if !os.SameFile(info, t.info) {
		// Rotated: finish the old file (a writer may have appended after
		// the last read and before the rename), then switch. Its last
		// line is complete even without a newline: nothing will follow it.
		if err := t.readAvailable(ctx); err != nil {
			return false, err
		}
		if err := t.flushPartial(ctx); err != nil {
			return false, err
		}
		t.close()
		return true, t.open(false)
	}
	if info.Size() < t.off {
		// Truncated: start again from the beginning; the held partial
		// line was cut off with the rest.
		if _, err := t.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("file.watch: %w", err)
		}
		t.off, t.lineOff, t.partial = 0, 0, t.partial[:0]
		return true, nil
	}
	return false, nil
}
