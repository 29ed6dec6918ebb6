// Package progress shows how far a `conveyor run` has got, from the
// runner's counters (flow.Runner.Report) read a few times per second: on a
// terminal, a bar of the input read against its size (bytes of the source
// files, or rows of count-bounded generators) with rows read, rows/s and
// ETA, and a line of counts per stage; elsewhere, a plain log line every
// few seconds. It never touches the data: a slow display cannot slow the
// pipeline.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// Source is what the display reads; *flow.Runner is one. Report must be
// safe to call while the run goes on.
type Source interface {
	Report() []flow.StageReport
}

// Input is the size of a run's input, where it can be known before the
// run: the bytes of the sources' files, or the rows of generators with a
// count. A zero field is unknown.
type Input struct {
	Bytes int64
	Rows  int64
}

// InputOf sums the sizes of the files the sources of g will read, when
// every source reads files whose size can be known (uncompressed files that
// exist now); otherwise it sums the counts of count-bounded generators,
// when every source is one. Anything else gives the zero Input (unknown).
func InputOf(g *flow.Graph) Input {
	var bytes, rows int64
	filesOnly, countsOnly := true, true
	sources := 0
	for _, n := range g.Nodes {
		if n.Spec == nil || n.Spec.Kind != flow.KindSource {
			continue
		}
		sources++
		b, ok := fileBytes(n)
		if ok {
			bytes += b
		} else {
			filesOnly = false
		}
		if n.Spec.Name == "generate" && n.Config.Str("mode") != "nexmark" && n.Config.Int("count") > 0 {
			rows += int64(n.Config.Int("count"))
		} else {
			countsOnly = false
		}
	}
	switch {
	case sources == 0:
	case filesOnly && bytes > 0:
		return Input{Bytes: bytes}
	case countsOnly:
		return Input{Rows: rows}
	}
	return Input{}
}

// fileBytes is the size of the files a source reads through its path
// parameter.
func fileBytes(n *flow.Node) (int64, bool) {
	if n.Spec.Param("path") == nil {
		return 0, false
	}
	p := n.Config.Str("path")
	if p == "" || p == "-" || strings.Contains(p, "://") {
		return 0, false
	}
	files := fileio.ExpandExisting(p)
	if len(files) == 0 {
		return 0, false
	}
	var total int64
	for _, f := range files {
		if fileio.Detect(f) != fileio.None {
			return 0, false // the readers count the bytes they decompress
		}
		fi, err := os.Stat(f)
		if err != nil || !fi.Mode().IsRegular() {
			return 0, false
		}
		total += fi.Size()
	}
	return total, true
}

// Snapshot is the progress of a run at one moment.
type Snapshot struct {
	Elapsed time.Duration
	// Rows and Bytes were read by the sources so far.
	Rows, Bytes int64
	// RowsPerSec and BytesPerSec are the recent rates (over the last few
	// seconds).
	RowsPerSec, BytesPerSec float64
	// Fraction of the input read, in [0, 1]; -1 when unknown.
	Fraction float64
	// ETA is the time left at the recent rate; -1 when unknown.
	ETA    time.Duration
	Input  Input
	Stages []flow.StageReport
}

// rateWindow is how far back the recent rates look.
const rateWindow = 5 * time.Second

type sample struct {
	at          time.Time
	rows, bytes int64
}

// meter turns successive reports into snapshots.
type meter struct {
	input   Input
	samples []sample
}

func (m *meter) update(now time.Time, elapsed time.Duration, stages []flow.StageReport) Snapshot {
	s := Snapshot{Elapsed: elapsed, Stages: stages, Input: m.input, Fraction: -1, ETA: -1}
	for _, st := range stages {
		if st.Kind == flow.KindSource.String() {
			s.Rows += st.RowsOut
			s.Bytes += st.BytesRead
		}
	}
	if len(m.samples) == 0 && elapsed > 0 {
		// At the run's start nothing was read.
		m.samples = append(m.samples, sample{at: now.Add(-elapsed)})
	}
	m.samples = append(m.samples, sample{now, s.Rows, s.Bytes})
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) >= rateWindow {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	if dt := now.Sub(first.at).Seconds(); dt >= 0.5 {
		s.RowsPerSec = float64(s.Rows-first.rows) / dt
		s.BytesPerSec = float64(s.Bytes-first.bytes) / dt
	} else if secs := elapsed.Seconds(); secs > 0 {
		s.RowsPerSec = float64(s.Rows) / secs
		s.BytesPerSec = float64(s.Bytes) / secs
	}
	done, total, rate := s.Bytes, m.input.Bytes, s.BytesPerSec
	if total == 0 {
		done, total, rate = s.Rows, m.input.Rows, s.RowsPerSec
	}
	if total > 0 {
		s.Fraction = min(float64(done)/float64(total), 1)
		switch {
		case done >= total:
			s.ETA = 0
		case rate > 0:
			s.ETA = time.Duration(float64(total-done) / rate * float64(time.Second))
		}
	}
	return s
}

// Mode says how progress is shown.
type Mode int

const (
	// Off shows nothing.
	Off Mode = iota
	// Bar draws progress bars on a terminal.
	Bar
	// Log writes a log line every LogInterval.
	Log
)

// Options configure a Display.
type Options struct {
	Mode Mode
	// Out is the terminal the bars are drawn on (Bar).
	Out io.Writer
	// Logger receives the periodic lines (Log), at info level.
	Logger *slog.Logger
	// Input is the run's input size (InputOf).
	Input Input
	// Interval is how often the bars are refreshed (default 200ms).
	Interval time.Duration
	// LogInterval is how often a line is logged (default 5s).
	LogInterval time.Duration
	// Clock drives the refreshes (default: the real clock).
	Clock clock.Clock
	// Width is the bars' width when Out is not a terminal (tests).
	Width int
	// Log is the Writer the pipeline logs through (NewWriter): while the
	// bars are drawn, its lines are printed above them.
	Log *Writer
}

// Display shows a run's progress until Stop.
type Display struct {
	src   Source
	opts  Options
	start time.Time // elapsed time counts from Start
	m     meter
	stop  chan struct{}
	done  chan struct{}
	bars  *bars
	once  sync.Once
}

// Start begins showing the progress of src; call it right before the run
// starts (the elapsed time counts from here).
func Start(src Source, opts Options) *Display {
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = 5 * time.Second
	}
	d := &Display{src: src, opts: opts, start: opts.Clock.Now(), m: meter{input: opts.Input},
		stop: make(chan struct{}), done: make(chan struct{})}
	switch opts.Mode {
	case Bar:
		d.bars = newBars(opts, src.Report())
		if opts.Log != nil {
			opts.Log.redirect(d.bars.p)
		}
		go d.loop(opts.Clock.Ticker(opts.Interval), d.refresh)
	case Log:
		go d.loop(opts.Clock.Ticker(opts.LogInterval), d.logLine)
	default:
		close(d.done)
	}
	return d
}

// loop calls tick at every tick of t (made before the goroutine starts, so
// that a mock clock moved right after Start reaches it).
func (d *Display) loop(t *clock.Ticker, tick func()) {
	defer close(d.done)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			tick()
		case <-d.stop:
			return
		}
	}
}

func (d *Display) snapshot() Snapshot {
	now := d.opts.Clock.Now()
	return d.m.update(now, now.Sub(d.start), d.src.Report())
}

func (d *Display) refresh() { d.bars.update(d.snapshot()) }

func (d *Display) logLine() {
	if d.opts.Logger == nil {
		return
	}
	s := d.snapshot()
	attrs := []any{"elapsed", roundDur(s.Elapsed), "rows_read", s.Rows}
	if s.Bytes > 0 || s.Input.Bytes > 0 {
		attrs = append(attrs, "bytes_read", Bytes(s.Bytes))
	}
	if s.Input.Bytes > 0 {
		attrs = append(attrs, "input", Bytes(s.Input.Bytes))
	} else if s.Input.Rows > 0 {
		attrs = append(attrs, "input_rows", s.Input.Rows)
	}
	if s.Fraction >= 0 {
		attrs = append(attrs, "done", fmt.Sprintf("%.0f%%", s.Fraction*100))
	}
	attrs = append(attrs, "rows_per_s", int64(s.RowsPerSec+0.5))
	if s.ETA >= 0 {
		attrs = append(attrs, "eta", roundDur(s.ETA))
	}
	attrs = append(attrs, "stages", StageCounts(s.Stages))
	d.opts.Logger.Info("progress", attrs...)
}

// Stop ends the display: the bars show their final counts and leave the
// terminal to what follows (the summary). It waits for the display's
// goroutine, and may be called more than once.
func (d *Display) Stop() {
	d.once.Do(func() {
		close(d.stop)
		<-d.done
		if d.bars != nil {
			if d.opts.Log != nil {
				d.opts.Log.redirect(nil)
			}
			d.bars.finish(d.snapshot())
		}
	})
}

// StageCounts renders the stages' counts on one line: "load:out=1000
// big:in=1000,out=480,rejected=20 write:in=480".
func StageCounts(stages []flow.StageReport) string {
	parts := make([]string, 0, len(stages))
	for _, s := range stages {
		var c []string
		if s.Kind != flow.KindSource.String() {
			c = append(c, fmt.Sprintf("in=%d", s.RowsIn))
		}
		if s.Kind != flow.KindSink.String() || s.RowsOut > 0 {
			c = append(c, fmt.Sprintf("out=%d", s.RowsOut))
		}
		if s.Rejected > 0 {
			c = append(c, fmt.Sprintf("rejected=%d", s.Rejected))
		}
		parts = append(parts, s.ID+":"+strings.Join(c, ","))
	}
	return strings.Join(parts, " ")
}

// Writer is the destination of the pipeline's logs: it writes to its
// underlying writer, or, while bars are drawn, above the bars so that log
// lines and bars do not overwrite each other.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	above io.Writer
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.above != nil {
		return w.above.Write(p)
	}
	return w.w.Write(p)
}

func (w *Writer) redirect(to io.Writer) {
	w.mu.Lock()
	w.above = to
	w.mu.Unlock()
}

// Bytes renders a byte count with a binary unit: 512 B, 3.2 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Count renders a count briefly: 950, 12.3k, 4.56M.
func Count(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func roundDur(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
