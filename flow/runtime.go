package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
	"golang.org/x/sync/errgroup"
)

// Options configure a Runner. Zero values get defaults.
type Options struct {
	// Alloc allocates every Arrow buffer (default: Go allocator).
	Alloc memory.Allocator
	// Clock drives processing time (default: the real clock).
	Clock clock.Clock
	// Logger receives the pipeline's logs (default: discard).
	Logger *slog.Logger
	// BaseDir resolves relative paths in stage configs ("" = working dir).
	BaseDir string
	// DrainTimeout bounds the graceful phase of shutdown started by Drain:
	// when it expires the run is cancelled hard (default 30s).
	DrainTimeout time.Duration
}

// Runner runs one validated pipeline once.
type Runner struct {
	g      *Graph
	opts   Options
	stages []*Stage
	ops    []any
	dead   *deadLetter
	edges  []chan Message // every edge, wired by NewRunner

	drainCh   chan struct{}
	drainOnce sync.Once
	start     time.Time
	end       time.Time
}

// NewRunner constructs every stage's operator (no goroutine starts).
// Constructor failures are reported together, naming each stage.
func NewRunner(g *Graph, opts Options) (*Runner, error) {
	if opts.Alloc == nil {
		opts.Alloc = memory.NewGoAllocator()
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	f := g.File
	r := &Runner{g: g, opts: opts, drainCh: make(chan struct{})}
	dlPath := ""
	if f.ErrorHandling.DeadLetter.Enabled {
		dlPath = f.ErrorHandling.DeadLetter.Path
		if dlPath == "" {
			dlPath = "errors/"
		}
		if opts.BaseDir != "" {
			dir := strings.HasSuffix(dlPath, "/")
			dlPath = BuildEnv{BaseDir: opts.BaseDir}.Path(dlPath)
			if dir && !strings.HasSuffix(dlPath, "/") {
				dlPath += "/" // still names a directory
			}
		}
	}
	r.dead = openDeadLetter(dlPath, f.Pipeline.Name, opts.Logger)
	var errs ConfigErrors
	proj := g.Projection()
	for _, n := range g.Nodes {
		logger := opts.Logger.With("stage", n.ID)
		env := BuildEnv{StageID: n.ID, Pipeline: f.Pipeline.Name, Alloc: opts.Alloc, Clock: opts.Clock, Logger: logger,
			BaseDir: opts.BaseDir, BatchSize: f.Global.BatchSize, Columns: proj[n.ID]}
		op, err := n.Spec.New(n.Config, env)
		if err != nil {
			errs = append(errs, &ConfigError{File: f.Path, Line: n.Line, Stage: n.ID, Message: err.Error()})
			continue
		}
		st := &Stage{
			ID: n.ID, Spec: n.Spec, Config: n.Config, Alloc: opts.Alloc, Clock: opts.Clock, Logger: logger,
			metrics: &StageMetrics{}, strategy: n.Strategy, maxRetries: f.ErrorHandling.MaxRetries,
			retryDelay: retryDelayFor(f.ErrorHandling.RetryDelaySeconds),
			outputs:    map[string][]chan Message{}, draining: r.drainCh, dead: r.dead,
		}
		r.stages = append(r.stages, st)
		r.ops = append(r.ops, op)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// Wire the edges now, so that Report may read their occupancy from
	// another goroutine at any time.
	capacity := f.Global.ChannelCapacity
	byID := map[string]*Stage{}
	for _, st := range r.stages {
		byID[st.ID] = st
	}
	for i, n := range g.Nodes {
		st := r.stages[i]
		for _, in := range n.Inputs {
			ch := make(chan Message, capacity)
			r.edges = append(r.edges, ch)
			st.inputs = append(st.inputs, ch)
			src := byID[in.Stage]
			src.outputs[in.Port] = append(src.outputs[in.Port], ch)
		}
	}
	return r, nil
}

// Drain asks the pipeline to stop gracefully: sources stop reading and
// close their outputs, in-flight batches reach the sinks, sinks commit.
// If that takes longer than Options.DrainTimeout the run is cancelled.
// Drain may be called more than once, from any goroutine.
func (r *Runner) Drain() { r.drainOnce.Do(func() { close(r.drainCh) }) }

// Run runs the pipeline to completion and returns the first fatal error.
// Cancelling ctx is a hard stop: stages return at once and sinks abort
// (leaving no partial output at their targets); the error then wraps
// ErrInterrupted.
func (r *Runner) Run(ctx context.Context) error {
	all := r.edges

	hardCtx, hardCancel := context.WithCancel(ctx)
	defer hardCancel()
	stopTimer := make(chan struct{})
	defer close(stopTimer)
	go func() {
		select {
		case <-r.drainCh:
		case <-stopTimer:
			return
		}
		t := r.opts.Clock.Timer(r.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			r.opts.Logger.Warn("drain deadline passed; cancelling", "deadline", r.opts.DrainTimeout)
			hardCancel()
		case <-stopTimer:
		}
	}()

	r.start = r.opts.Clock.Now()
	g, gctx := errgroup.WithContext(hardCtx)
	for i, st := range r.stages {
		op := r.ops[i]
		g.Go(func() error {
			err := runOperator(gctx, st, op)
			if err == nil {
				drainInputs(gctx, st)
			}
			for _, outs := range st.outputs {
				for _, ch := range outs {
					close(ch)
				}
			}
			return err
		})
	}
	err := g.Wait()
	for _, st := range r.stages {
		for _, f := range st.afterRun {
			f()
		}
	}
	r.end = r.opts.Clock.Now()
	// Release what cancelled stages left in flight.
	for _, ch := range all {
		for m := range ch {
			if m.Batch != nil {
				m.Batch.Release()
			}
		}
	}
	if cerr := r.dead.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("dead-letter output: %w", cerr)
	}
	if ctx.Err() != nil {
		if err == nil || errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: the run was cancelled before it finished", ErrInterrupted)
		}
		return fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return err
}

// drainInputs consumes and releases what remains on a stage's inputs after
// its operator returned early (a limit reached), so producers never block.
func drainInputs(ctx context.Context, st *Stage) {
	for _, in := range st.inputs {
		for {
			select {
			case m, ok := <-in:
				if !ok {
					goto next
				}
				if m.Batch != nil {
					m.Batch.Release()
				}
			case <-ctx.Done():
				return
			}
		}
	next:
	}
}

// StageReport is one stage's counters at the end of (or during) a run.
type StageReport struct {
	ID         string        `json:"id"`
	Function   string        `json:"function"`
	Kind       string        `json:"kind"`
	RowsIn     int64         `json:"rows_in"`
	RowsOut    int64         `json:"rows_out"`
	BatchesIn  int64         `json:"batches_in"`
	BatchesOut int64         `json:"batches_out"`
	Rejected   int64         `json:"rejected"`
	Retries    int64         `json:"retries"`
	Blocked    time.Duration `json:"blocked_ns"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	BytesRead  int64         `json:"bytes_read"`
	PeakBytes  int64         `json:"peak_bytes"`
	// Watermark is the last watermark the stage emitted (zero: none).
	Watermark time.Time `json:"watermark,omitzero"`
	LateRows  int64     `json:"late_rows"`
	// Queued and Capacity are the batches waiting on the stage's input
	// channels and their total capacity (channel occupancy).
	Queued   int `json:"queued"`
	Capacity int `json:"capacity"`
}

// Report returns every stage's counters, in topological order.
func (r *Runner) Report() []StageReport {
	now := r.opts.Clock.Now()
	out := make([]StageReport, 0, len(r.stages))
	for _, st := range r.stages {
		m := st.metrics
		out = append(out, StageReport{
			ID: st.ID, Function: st.Spec.Name, Kind: st.Spec.Kind.String(),
			RowsIn: m.RowsIn.Load(), RowsOut: m.RowsOut.Load(),
			BatchesIn: m.BatchesIn.Load(), BatchesOut: m.BatchesOut.Load(),
			Rejected: m.Rejected.Load(), Retries: m.Retries.Load(),
			Blocked: time.Duration(m.BlockedNanos.Load()), Elapsed: m.Elapsed(now),
			BytesRead: m.BytesRead.Load(), PeakBytes: m.PeakBytes.Load(),
			LateRows: m.LateRows.Load(),
		})
		rep := &out[len(out)-1]
		if w := m.Watermark.Load(); w != 0 {
			rep.Watermark = time.UnixMicro(w).UTC()
		}
		for _, ch := range st.inputs {
			rep.Queued += len(ch)
			rep.Capacity += cap(ch)
		}
	}
	return out
}

// DeadLettered is the number of records written to the dead-letter output.
func (r *Runner) DeadLettered() int64 { return r.dead.Count() }

// Elapsed is the run's wall time (so far).
func (r *Runner) Elapsed() time.Duration {
	if r.start.IsZero() {
		return 0
	}
	if r.end.IsZero() {
		return r.opts.Clock.Since(r.start)
	}
	return r.end.Sub(r.start)
}

// Graph returns the pipeline being run.
func (r *Runner) Graph() *Graph { return r.g }
