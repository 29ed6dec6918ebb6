// Package filewatch provides file.watch, a source that follows a file as
// it grows, like `tail -F`: appended lines are read as they arrive,
// rotation (the file renamed away and a new one created at the path) and
// truncation are survived without losing or repeating a line.
package filewatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/conveyor-etl/conveyor/connectors/internal/linesource"
	"github.com/conveyor-etl/conveyor/flow"
)

// Spec is the spec of file.watch.
func Spec() *flow.Spec {
	params := append([]flow.Param{
		{Name: "path", Type: flow.TypeString, Required: true, Doc: "The file to follow (it may not exist yet)."},
		{Name: "from", Type: flow.TypeString, Default: "start", Allowed: []string{"start", "end"},
			Doc: "start: read the file from its beginning; end: only lines appended after the stream started. A file created or rotated in later is always read from its start."},
		{Name: "follow", Type: flow.TypeBool, Default: true,
			Doc: "true: keep following the file (never ends by itself); false: read it to its current end and stop, like cat (replays, tests)."},
		{Name: "poll_interval", Type: flow.TypeDuration, Default: "250ms",
			Doc: "How often the file is checked for new data, rotation and truncation once its end was reached."},
	}, linesource.Params()...)
	return &flow.Spec{
		Name: "file.watch", Kind: flow.KindSource, Aliases: []string{"file.tail"},
		Summary: "Follow a file like tail -F: appended lines as they arrive, through rotation and truncation",
		Description: `file.watch reads path and keeps reading what is appended to it, in micro-batches
(batch_size rows or linger, like every streaming source). It never ends by itself:
run it with ` + "`conveyor stream`" + `, which stops it on SIGINT/SIGTERM after handing on the
rows read.

Rotation: when the path names a new file (the old one was renamed or removed and
another created), the old file is read to its end first, then the new one from its
start. Truncation: when the file becomes shorter than what was read, it is read
again from its start. A last line without its newline is held until the newline
arrives (or until the file is rotated away, when it is taken as complete). Lines are
located in rejections as path:line, counted from the start of each file.

Polling (poll_interval) keeps it portable (local disks, network file systems,
containers); the check is one stat call.`,
		Tags:      []string{"file", "stream"},
		Params:    params,
		Unbounded: func(cfg flow.Config) bool { return !cfg.Has("follow") || cfg.Bool("follow") },
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			c, err := linesource.ParseConfig(cfg, env)
			if err != nil {
				return nil, err
			}
			poll := cfg.Duration("poll_interval")
			if poll <= 0 {
				poll = 250 * time.Millisecond
			}
			return &watcher{path: env.Path(cfg.Str("path")), fromEnd: cfg.Str("from") == "end", poll: poll, cfg: c,
				follow: !cfg.Has("follow") || cfg.Bool("follow")}, nil
		},
		Examples: []flow.Example{{
			Title:  "Read a log of JSON lines (follow = false stops at its end; the default follows it forever)",
			Config: "path = \"app.jsonl\"\nformat = \"jsonl\"\nfollow = false",
			Files:  map[string]string{"app.jsonl": `{"level":"info","msg":"up"}` + "\n" + `{"level":"warn","msg":"slow"}` + "\n"},
			Output: `{"level":"info","msg":"up"}` + "\n" + `{"level":"warn","msg":"slow"}` + "\n",
		}},
	}
}

// Register adds file.watch to r.
func Register(r *flow.Registry) { r.Register(Spec()) }

type watcher struct {
	path    string
	fromEnd bool
	poll    time.Duration
	follow  bool
	cfg     linesource.Config
}

func (w *watcher) Run(ctx context.Context, st *flow.Stage) error {
	lines := make(chan linesource.Line, 1024)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		t := &tailer{w: w, st: st, out: lines}
		if err := t.follow(rctx); err != nil && rctx.Err() == nil {
			select {
			case lines <- linesource.Line{Err: err}:
			case <-rctx.Done():
			}
		}
	}()
	err := linesource.Run(ctx, st, w.cfg, w.path, lines)
	cancel()
	<-done
	return err
}

// tailer is the reading side, on its own goroutine.
type tailer struct {
	w   *watcher
	st  *flow.Stage
	out chan<- linesource.Line

	f       *os.File
	info    os.FileInfo
	off     int64
	partial []byte
	buf     []byte
}

func (t *tailer) follow(ctx context.Context) error {
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	first := true
	t.buf = make([]byte, 256<<10)
	for {
		if t.f == nil {
			if err := t.open(first); err != nil {
				return err
			}
			first = false
		}
		if t.f != nil {
			n, err := t.readAvailable(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				continue // more may be there already
			}
			if !t.w.follow {
				if len(t.partial) > 0 {
					return t.send(ctx, append([]byte(nil), t.partial...))
				}
				return nil
			}
			changed, err := t.check(ctx)
			if err != nil {
				return err
			}
			if changed {
				continue // another file, or truncated: read at once
			}
		} else if !t.w.follow {
			return fmt.Errorf("file.watch: %s does not exist", t.w.path)
		}
		timer := t.st.Clock.Timer(t.w.poll)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil
		}
	}
}

// open opens the path, if it exists. The first file of a from = "end"
// stream is read from its end.
func (t *tailer) open(first bool) error {
	f, err := os.Open(t.w.path)
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
	t.f, t.info, t.off, t.partial = f, info, 0, t.partial[:0]
	if first && t.w.fromEnd {
		if t.off, err = f.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("file.watch: %w", err)
		}
	}
	return nil
}

// readAvailable reads what the open file holds past off and sends its
// whole lines; it returns the bytes read.
func (t *tailer) readAvailable(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := t.f.Read(t.buf)
		if n > 0 {
			total += n
			t.off += int64(n)
			t.st.Metrics().BytesRead.Add(int64(n))
			if err := t.split(ctx, t.buf[:n]); err != nil {
				return total, err
			}
		}
		if err == io.EOF || (n == 0 && err == nil) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("file.watch: reading %s: %w", t.w.path, err)
		}
	}
}

// split sends the whole lines of data (after the held partial line).
func (t *tailer) split(ctx context.Context, data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.partial = append(t.partial, data...)
			return nil
		}
		line := append(append([]byte(nil), t.partial...), data[:i+1]...)
		t.partial = t.partial[:0]
		data = data[i+1:]
		if err := t.send(ctx, line); err != nil {
			return err
		}
	}
	return nil
}

func (t *tailer) send(ctx context.Context, line []byte) error {
	select {
	case t.out <- linesource.Line{Data: line}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// check looks at the path after the open file's end was reached: a new
// file there (rotation) or a shorter file (truncation). changed reports
// either.
func (t *tailer) check(ctx context.Context) (changed bool, err error) {
	info, err := os.Stat(t.w.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil // removed: keep the old file until a new one appears
	case err != nil:
		return false, fmt.Errorf("file.watch: %w", err)
	}
	if !os.SameFile(info, t.info) {
		// Rotated: finish the old file (a writer may have appended just
		// before the rename), then switch.
		if _, err := t.readAvailable(ctx); err != nil {
			return false, err
		}
		if len(t.partial) > 0 {
			if err := t.send(ctx, append([]byte(nil), t.partial...)); err != nil {
				return false, err
			}
		}
		t.f.Close()
		t.f = nil
		return true, t.open(false)
	}
	if info.Size() < t.off {
		// Truncated: start again from the beginning.
		if _, err := t.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("file.watch: %w", err)
		}
		t.off = 0
		t.partial = t.partial[:0]
		return true, nil
	}
	return false, nil
}
