package flow

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// PortErrors is the side output every stage has: the rows it rejected.
const PortErrors = "errors"

// rejectFlushRows is how many rejections a stage buffers before sending
// them on as one batch.
const rejectFlushRows = 1024

// StageMetrics are a stage's counters. They are updated atomically and may
// be read while the pipeline runs.
type StageMetrics struct {
	RowsIn, RowsOut       atomic.Int64
	BatchesIn, BatchesOut atomic.Int64
	// BlockedNanos is the time spent waiting on a full output channel.
	BlockedNanos atomic.Int64
	// Rejected counts rows sent to the errors port or dead-letter output.
	Rejected atomic.Int64
	// Retries counts retried attempts.
	Retries atomic.Int64
	// BytesRead is maintained by sources that know it (for throughput).
	BytesRead atomic.Int64
	// PeakBytes is maintained by blocking operators that hold state.
	PeakBytes atomic.Int64
	// Watermark is the last watermark the stage emitted (unix µs; 0: none).
	Watermark atomic.Int64
	// LateRows counts rows a window stage sent to its late port.
	LateRows atomic.Int64

	started, finished atomic.Int64 // unix nanos on the pipeline clock
}

// Elapsed is the stage's running time so far (or in total once finished).
func (m *StageMetrics) Elapsed(now time.Time) time.Duration {
	s := m.started.Load()
	if s == 0 {
		return 0
	}
	e := m.finished.Load()
	if e == 0 {
		e = now.UnixNano()
	}
	return time.Duration(e - s)
}

// Stage is an operator's handle on the running pipeline: its identity, its
// inputs and outputs, and the error policy. One Stage belongs to one
// goroutine: its methods are not safe for concurrent use, except Metrics
// and Draining.
type Stage struct {
	ID     string
	Spec   *Spec
	Config Config
	Alloc  memory.Allocator
	Clock  clock.Clock
	Logger *slog.Logger

	metrics    *StageMetrics
	strategy   Strategy
	maxRetries int
	retryDelay time.Duration

	inputs   []chan Message
	outputs  map[string][]chan Message
	draining <-chan struct{}
	dead     *deadLetter

	merged    chan Message
	mergeWG   sync.WaitGroup
	mergeStop context.CancelFunc
	open      int // inputs not yet closed, when reading unmerged
	// inputEnds: Recv delivers a MsgInputEnd when one input ends.
	inputEnds bool
	// Watermark combination and the messages Recv has yet to deliver.
	wms         *watermarks
	idleTimeout time.Duration
	queue       []Message
	closed      bool // every input has ended

	pending []Rejection

	// Barriers: handleBarriers makes Recv deliver them; otherwise they are
	// held here until the operator finishes.
	handleBarriers bool
	heldBarriers   []*Barrier
	afterRun       []func()

	// collect, when set, receives every emitted batch instead of the
	// output channels (isolated runs).
	collect func(port string, b arrow.RecordBatch)
}

// Metrics returns the stage's counters.
func (s *Stage) Metrics() *StageMetrics { return s.metrics }

// Strategy is the stage's effective error strategy.
func (s *Stage) Strategy() Strategy { return s.strategy }

// Draining is closed when the pipeline is asked to stop gracefully: sources
// stop reading, emit what they hold, and return nil.
func (s *Stage) Draining() <-chan struct{} { return s.draining }

// ReportInputEnds makes Recv deliver a MsgInputEnd message (Input set,
// no batch) when one input ends, before the final ok=false. Operators that
// treat their inputs differently (a join's build side) call it before
// their first Recv.
func (s *Stage) ReportInputEnds() { s.inputEnds = true }

// NumInputs is the number of input edges.
func (s *Stage) NumInputs() int { return len(s.inputs) }

// Recv returns the next message from any input. ok is false once every
// input is closed (end of stream) or ctx is done; err is ctx.Err() in the
// latter case. Data messages are counted in the stage's metrics; the caller
// owns the batch.
//
// Watermarks are combined: Recv delivers a MsgWatermark only when the
// minimum over the stage's inputs advances (an ended input no longer holds
// it back, nor an input idle for longer than SetIdleTimeout's duration).
// A MsgInputEnd is delivered when one input ends only to operators that
// called ReportInputEnds.
func (s *Stage) Recv(ctx context.Context) (msg Message, ok bool, err error) {
	if len(s.inputs) == 0 {
		return Message{}, false, nil
	}
	if s.wms == nil {
		s.wms = newWatermarks(len(s.inputs), s.Clock.Now())
		s.wms.timeout = s.idleTimeout
	}
	for {
		if len(s.queue) > 0 {
			msg = s.queue[0]
			s.queue = s.queue[1:]
			return msg, true, nil
		}
		if s.closed {
			return Message{}, false, nil
		}
		var timeout <-chan time.Time
		var timer *clock.Timer
		if s.wms.timeout > 0 {
			now := s.Clock.Now()
			if next := s.wms.expire(now); !next.IsZero() {
				timer = s.Clock.Timer(next.Sub(now))
				timeout = timer.C
			}
			s.promote()
			if len(s.queue) > 0 {
				continue
			}
		}
		var in <-chan Message
		if len(s.inputs) == 1 {
			in = s.inputs[0]
		} else {
			if s.merged == nil {
				s.startMerge(ctx)
			}
			in = s.merged
		}
		fired := false
		select {
		case msg, ok = <-in:
		case <-timeout:
			fired = true
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return Message{}, false, ctx.Err()
		}
		if timer != nil {
			timer.Stop()
		}
		if fired {
			s.wms.expire(s.Clock.Now())
			s.promote()
			continue
		}
		if !ok {
			if len(s.inputs) == 1 && !s.wms.ended[0] {
				// The single input ended: as a MsgInputEnd from a merge.
				msg, ok = Message{Kind: MsgInputEnd}, true
			} else {
				s.closed = true
				continue
			}
		}
		switch msg.Kind {
		case MsgData:
			s.wms.seen(msg.Input, s.Clock.Now())
			if msg.Batch != nil {
				s.metrics.BatchesIn.Add(1)
				s.metrics.RowsIn.Add(msg.Batch.NumRows())
			}
			return msg, true, nil
		case MsgWatermark:
			s.wms.seen(msg.Input, s.Clock.Now())
			s.wms.observe(msg.Input, msg.Watermark)
			s.promote()
		case MsgBarrier:
			if s.handleBarriers {
				return msg, true, nil
			}
			s.heldBarriers = append(s.heldBarriers, msg.Barrier)
		case MsgInputEnd:
			s.wms.end(msg.Input)
			s.promote()
			if s.inputEnds {
				s.queue = append(s.queue, msg)
			}
			if len(s.inputs) == 1 {
				s.closed = true
			}
		}
	}
}

// promote queues a watermark message when the inputs' minimum advanced.
func (s *Stage) promote() {
	if wm, ok := s.wms.advance(); ok {
		s.queue = append(s.queue, Message{Kind: MsgWatermark, Watermark: wm})
	}
}

// SetIdleTimeout makes an input that has sent nothing for d (on the
// stage's clock) stop holding the stage's watermark back until it sends
// again. 0 (the default) never considers an input idle. Call it before
// the first Recv.
func (s *Stage) SetIdleTimeout(d time.Duration) { s.idleTimeout = d }

// RecvFrom receives from one input only (for operators such as joins that
// consume their inputs in a set order). It must not be mixed with Recv.
func (s *Stage) RecvFrom(ctx context.Context, input int) (msg Message, ok bool, err error) {
	select {
	case msg, ok = <-s.inputs[input]:
	case <-ctx.Done():
		return Message{}, false, ctx.Err()
	}
	if ok {
		msg.Input = input
		if msg.Kind == MsgData && msg.Batch != nil {
			s.metrics.BatchesIn.Add(1)
			s.metrics.RowsIn.Add(msg.Batch.NumRows())
		}
		if msg.Kind == MsgBarrier && !s.handleBarriers {
			s.heldBarriers = append(s.heldBarriers, msg.Barrier)
			return s.RecvFrom(ctx, input)
		}
	}
	return msg, ok, nil
}

func (s *Stage) startMerge(ctx context.Context) {
	s.merged = make(chan Message)
	mctx, cancel := context.WithCancel(ctx)
	s.mergeStop = cancel
	for i, in := range s.inputs {
		s.mergeWG.Add(1)
		go func(i int, in chan Message) {
			defer s.mergeWG.Done()
			for {
				select {
				case m, ok := <-in:
					if !ok {
						select {
						case s.merged <- Message{Kind: MsgInputEnd, Input: i}:
						case <-mctx.Done():
						}
						return
					}
					m.Input = i
					select {
					case s.merged <- m:
					case <-mctx.Done():
						if m.Batch != nil {
							m.Batch.Release()
						}
						return
					}
				case <-mctx.Done():
					return
				}
			}
		}(i, in)
	}
	go func() {
		s.mergeWG.Wait()
		close(s.merged)
	}()
}

// stopMerge ends the merge goroutines and waits for them.
func (s *Stage) stopMerge() {
	if s.mergeStop != nil {
		s.mergeStop()
		s.mergeWG.Wait()
		// Drain what the closer goroutine may still deliver.
		for m := range s.merged {
			if m.Batch != nil {
				m.Batch.Release()
			}
		}
	}
}

// Emit sends b on the stage's main output, taking ownership of it. An empty
// batch is released and not sent.
func (s *Stage) Emit(ctx context.Context, b arrow.RecordBatch) error {
	return s.EmitPort(ctx, "", b)
}

// EmitPort sends b on the named output port ("" is the main output), taking
// ownership of it. A batch on a port nobody consumes is released (for the
// main output) or written to the dead-letter output (for side outputs).
func (s *Stage) EmitPort(ctx context.Context, port string, b arrow.RecordBatch) error {
	if b == nil {
		return nil
	}
	n := b.NumRows()
	if n == 0 {
		b.Release()
		return nil
	}
	outs := s.outputs[port]
	if port == "" {
		s.metrics.BatchesOut.Add(1)
		s.metrics.RowsOut.Add(n)
	}
	if s.collect != nil {
		s.collect(port, b)
		return nil
	}
	if len(outs) == 0 {
		if port != "" && s.dead != nil {
			s.dead.writeBatch(s.ID, port, b, s.Clock.Now())
		}
		b.Release()
		return nil
	}
	for range len(outs) - 1 {
		b.Retain()
	}
	return s.send(ctx, outs, Message{Kind: MsgData, Batch: b})
}

// EmitWatermark forwards a watermark on the main output.
func (s *Stage) EmitWatermark(ctx context.Context, t time.Time) error {
	s.metrics.Watermark.Store(t.UnixMicro())
	if s.collect != nil {
		return nil
	}
	return s.send(ctx, s.outputs[""], Message{Kind: MsgWatermark, Watermark: t})
}

func (s *Stage) send(ctx context.Context, outs []chan Message, m Message) error {
	for i, ch := range outs {
		select {
		case ch <- m:
			continue
		default:
		}
		start := time.Now()
		select {
		case ch <- m:
			s.metrics.BlockedNanos.Add(int64(time.Since(start)))
		case <-ctx.Done():
			if m.Batch != nil {
				for range len(outs) - i {
					m.Batch.Release()
				}
			}
			return ctx.Err()
		}
	}
	return nil
}

// HasConsumers reports whether some stage takes the given port as input.
func (s *Stage) HasConsumers(port string) bool {
	return len(s.outputs[port]) > 0 || s.collect != nil
}

// Reject reports a row the stage could not process. Under the "stop"
// strategy it returns an error the operator must return (the pipeline fails
// with the row's location and reason). Otherwise the row goes to the
// stage's errors port, or to the dead-letter output when nothing consumes
// that port, and Reject returns nil.
func (s *Stage) Reject(ctx context.Context, r Rejection) error {
	if s.strategy == StrategyStop {
		return &RowError{Stage: s.ID, Source: r.Source, Err: r.Err}
	}
	return s.DeadLetter(ctx, r)
}

// DeadLetter sends a rejected row to the errors port or the dead-letter
// output whatever the stage's error strategy: for stages whose own
// configuration asks for it (validate.schema's on_invalid = "dead_letter",
// cast.apply's on_fail = "dead_letter"), where the user chose to keep
// going past bad rows.
func (s *Stage) DeadLetter(ctx context.Context, r Rejection) error {
	s.metrics.Rejected.Add(1)
	s.pending = append(s.pending, r)
	if len(s.pending) >= rejectFlushRows {
		return s.FlushRejections(ctx)
	}
	return nil
}

// FlushRejections sends buffered rejections on. The runtime calls it when
// the operator returns; operators may call it earlier.
func (s *Stage) FlushRejections(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	pending := s.pending
	s.pending = nil
	now := s.Clock.Now()
	if len(s.outputs[PortErrors]) > 0 || s.collect != nil {
		b := rejectionsBatch(s.Alloc, s.ID, pending, now)
		return s.EmitPort(ctx, PortErrors, b)
	}
	if s.dead != nil {
		for _, r := range pending {
			s.dead.writeRejection(s.ID, r, now)
		}
	}
	return nil
}

// RowError is the error of a rejected row under the "stop" strategy.
type RowError struct {
	Stage  string
	Source string
	Err    error
}

func (e *RowError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("stage %q: %s: %v", e.Stage, e.Source, e.Err)
	}
	return fmt.Sprintf("stage %q: %v", e.Stage, e.Err)
}

func (e *RowError) Unwrap() []error { return []error{ErrRowRejected, e.Err} }
