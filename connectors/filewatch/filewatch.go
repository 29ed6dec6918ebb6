// Package filewatch provides file.watch, a source that follows a file as
// it grows, like `tail -F`: appended lines are read as they arrive,
// rotation (the file renamed away and a new one created at the path) and
// truncation are survived without losing or repeating a line.
package filewatch

import (
	"context"
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
		{Name: "poll_interval_ms", Type: flow.TypeInt, Min: flow.F(1),
			Doc: "poll_interval in milliseconds (the original form); when given, it is the one used."},
	}, linesource.Params()...)
	params = append(params,
		flow.Param{Name: "quote", Type: flow.TypeString, Default: `"`, Doc: `csv: quote character; "" disables quoting.`},
		flow.Param{Name: "comment", Type: flow.TypeString, Doc: "csv: lines starting with this character are skipped."},
	)
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
arrives (or until the file is rotated away, when it is taken as complete). As with
tail -F, a file rotated away before it was ever opened is not read, and a file
truncated and rewritten past its old size between two polls is taken for an append.

Rejected lines are located as path:N, N counting the lines read since the stream
started (it goes on across rotations and truncations). A line longer than 64 MiB
fails the stage (not a text file?).

Polling (poll_interval) keeps it portable (local disks, network file systems,
containers); the check is one stat call, timed by the pipeline clock.`,
		Tags:      []string{"file", "stream"},
		Params:    params,
		Unbounded: func(cfg flow.Config) bool { return !cfg.Has("follow") || cfg.Bool("follow") },
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			c, err := linesource.ParseConfig(cfg, env)
			if err != nil {
				return nil, err
			}
			poll := cfg.Duration("poll_interval")
			if cfg.Has("poll_interval_ms") {
				poll = time.Duration(cfg.Int("poll_interval_ms")) * time.Millisecond
			}
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
		t := newTailer(w.path, w.fromEnd, lines, &st.Metrics().BytesRead)
		if err := t.run(rctx, st.Clock, w.poll, w.follow); err != nil && rctx.Err() == nil {
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
