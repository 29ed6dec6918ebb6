package flow

import (
	"context"
	"io"
	"log/slog"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// IsolatedResult is what a stage run in isolation produced.
type IsolatedResult struct {
	// Output holds the batches emitted on the main output, in order. The
	// caller owns them (call Release).
	Output []arrow.RecordBatch
	// Ports holds batches emitted on side outputs, including "errors"
	// (rejected rows, in ErrorSchema), by port name. The caller owns them.
	Ports map[string][]arrow.RecordBatch
}

// Release releases every batch of the result.
func (r *IsolatedResult) Release() {
	for _, b := range r.Output {
		b.Release()
	}
	for _, bs := range r.Ports {
		for _, b := range bs {
			b.Release()
		}
	}
}

// RunIsolated validates raw against spec, builds the stage and runs it to
// completion on the given inputs (one slice of batches per input edge; the
// batches are consumed: RunIsolated releases them). It drives the operator
// exactly as the pipeline runtime does (Transformer and Sink loops, retry
// and error strategy), which makes it the harness for operator tests and
// for running spec examples. Unset fields of env get defaults: a Go
// allocator, the real clock, a discarding logger, batch size 65536.
// strategy "" means "stop".
func RunIsolated(ctx context.Context, spec *Spec, raw map[string]any, env BuildEnv, strategy Strategy, inputs ...[]arrow.RecordBatch) (*IsolatedResult, error) {
	if env.Alloc == nil {
		env.Alloc = memory.NewGoAllocator()
	}
	if env.Clock == nil {
		env.Clock = clock.New()
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if env.BatchSize == 0 {
		env.BatchSize = 65536
	}
	if env.StageID == "" {
		env.StageID = "stage"
	}
	if strategy == "" {
		strategy = StrategyStop
	}
	release := func() {
		for _, in := range inputs {
			for _, b := range in {
				b.Release()
			}
		}
	}
	cfg, errs := CheckConfig(spec, raw)
	if len(errs) > 0 {
		release()
		for _, e := range errs {
			e.Stage = env.StageID
		}
		return nil, errs
	}
	if s := cfg.Str("on_error"); s != "" {
		strategy = Strategy(s)
	}
	op, err := spec.New(cfg, env)
	if err != nil {
		release()
		return nil, err
	}
	res := &IsolatedResult{Ports: map[string][]arrow.RecordBatch{}}
	st := &Stage{
		ID: env.StageID, Spec: spec, Config: cfg, Alloc: env.Alloc, Clock: env.Clock, Logger: env.Logger,
		metrics: &StageMetrics{}, strategy: strategy, retryDelay: 0, maxRetries: 3,
		draining: make(chan struct{}),
		collect: func(port string, b arrow.RecordBatch) {
			if port == "" {
				res.Output = append(res.Output, b)
			} else {
				res.Ports[port] = append(res.Ports[port], b)
			}
		},
	}
	for _, in := range inputs {
		ch := make(chan Message, len(in))
		for _, b := range in {
			ch <- Message{Kind: MsgData, Batch: b}
		}
		close(ch)
		st.inputs = append(st.inputs, ch)
	}
	err = runOperator(ctx, st, op)
	// Release inputs the operator left unread (it failed or was cancelled).
	for _, ch := range st.inputs {
		for m := range ch {
			if m.Batch != nil {
				m.Batch.Release()
			}
		}
	}
	if err != nil {
		res.Release()
		return nil, err
	}
	return res, nil
}
