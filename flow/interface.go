package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Sentinel errors. Wrap them with %w; test with errors.Is.
var (
	// ErrInvalidPipeline is wrapped by every validation failure.
	ErrInvalidPipeline = errors.New("invalid pipeline")
	// ErrUnknownStage is returned when a function name has no registered spec.
	ErrUnknownStage = errors.New("unknown stage function")
	// ErrRowRejected wraps a bad row that stopped the pipeline under the
	// "stop" strategy.
	ErrRowRejected = errors.New("row rejected")
	// ErrInterrupted is returned by a run cancelled from outside (Ctrl-C).
	ErrInterrupted = errors.New("interrupted")
)

// Kind says whether a stage produces, transforms or consumes batches.
type Kind int

const (
	KindSource Kind = iota + 1
	KindTransform
	KindSink
)

func (k Kind) String() string {
	switch k {
	case KindSource:
		return "source"
	case KindTransform:
		return "transform"
	case KindSink:
		return "sink"
	}
	return "unknown"
}

// Plural is the form used by `conveyor list -t`.
func (k Kind) Plural() string { return k.String() + "s" }

// MessageKind tells what a Message carries.
type MessageKind uint8

const (
	// MsgData carries one record batch.
	MsgData MessageKind = iota
	// MsgWatermark says no event with time < Watermark follows on the edge.
	MsgWatermark
	// MsgInputEnd says that input Message.Input has ended (no batch). It
	// is only delivered to operators that called Stage.ReportInputEnds.
	MsgInputEnd
	// MsgBarrier carries an acknowledgement marker (Message.Barrier): every
	// row emitted before it on the edge must be durably written before it
	// is acknowledged. It is only delivered to operators that called
	// Stage.HandleBarriers; for the others the runtime holds it until the
	// operator has finished.
	MsgBarrier
)

// Message is what travels on an edge between two stages.
//
// For MsgData, ownership of Batch passes to the receiver, which must call
// Release exactly once. Input is the index (in the stage's `inputs` list) of
// the edge the message arrived on; it is set by the runtime on receipt.
type Message struct {
	Kind      MessageKind
	Batch     arrow.RecordBatch
	Watermark time.Time
	Barrier   *Barrier
	Input     int
}

// Operator is the general shape of a running stage.
//
// An Operator is constructed from its validated config without starting any
// goroutine. The runtime then calls Run once, on the stage's own goroutine.
// Run receives with st.Recv and emits with st.Emit; every blocking operation
// it performs must also select on ctx.Done(). When all inputs are closed
// (st.Recv reports !ok) it flushes its state and returns nil; the runtime
// closes its outputs. Sources return when their input is exhausted or when
// st.Draining() is closed. On ctx.Done() Run returns promptly with ctx.Err().
type Operator interface {
	Run(ctx context.Context, st *Stage) error
}

// Transformer is the per-batch shape of a transform; the runtime drives the
// loop, applies the retry policy, and emits the result.
//
// Transform borrows in: the runtime releases it after Transform returns, so
// an implementation that passes it through unchanged must Retain it first.
// The returned batch (which may be nil when there is nothing to emit) is owned
// by the runtime. Transform may be called again with the same batch after an
// error, under the "retry" strategy.
type Transformer interface {
	Transform(ctx context.Context, st *Stage, in arrow.RecordBatch) (arrow.RecordBatch, error)
}

// Flusher is implemented by transformers that hold state to emit at the end
// of input. Flush may call st.Emit.
type Flusher interface {
	Flush(ctx context.Context, st *Stage) error
}

// Sink is the per-batch shape of a sink.
//
// Write borrows b (the runtime releases it). Close is called once after the
// last Write when the input ended normally: it flushes and commits (for files,
// renames the temporary file onto the target). Abort is called instead of
// Close when the run fails or is cancelled; it must leave no partial output
// at the target path.
type Sink interface {
	Write(ctx context.Context, st *Stage, b arrow.RecordBatch) error
	Close(ctx context.Context, st *Stage) error
	Abort()
}

// Strategy is an error policy.
type Strategy string

const (
	// StrategyStop fails the pipeline at the first error (the default).
	StrategyStop Strategy = "stop"
	// StrategyContinue sends the failing row or batch to the stage's errors
	// port (or the dead-letter output) and goes on.
	StrategyContinue Strategy = "continue"
	// StrategyRetry retries a failing batch max_retries times, waiting
	// retry_delay between attempts on the injected clock, then treats it as
	// under StrategyContinue. Bad input rows are not retried.
	StrategyRetry Strategy = "retry"
)

// Rejection is one row a stage could not process.
type Rejection struct {
	// Err is the reason.
	Err error
	// Source locates the row in its input, e.g. "data/sales.csv:42".
	Source string
	// Row is the row's values by column name when they could be decoded.
	Row map[string]any
	// Raw is the row's raw text when it could not be decoded.
	Raw string
}

// ConfigError is one problem found while validating a pipeline file. Every
// field that is known is filled; Error renders them as
// "file:line: stage "id": key "k": message".
type ConfigError struct {
	File    string
	Line    int
	Stage   string
	Key     string
	Message string
}

func (e *ConfigError) Error() string {
	s := ""
	if e.File != "" {
		s = e.File
		if e.Line > 0 {
			s += fmt.Sprintf(":%d", e.Line)
		}
		s += ": "
	}
	if e.Stage != "" {
		s += fmt.Sprintf("stage %q: ", e.Stage)
	}
	if e.Key != "" {
		s += fmt.Sprintf("key %q: ", e.Key)
	}
	return s + e.Message
}

func (e *ConfigError) Unwrap() error { return ErrInvalidPipeline }

// ConfigErrors is every problem found in one pipeline file.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}

func (es ConfigErrors) Unwrap() error { return ErrInvalidPipeline }
