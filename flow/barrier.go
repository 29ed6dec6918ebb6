package flow

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"sync"
	"sync/atomic"
)

// Barrier is an acknowledgement marker (DESIGN.md §1). A source emits one
// after rows it wants to commit (Kafka offsets, a file position); it
// travels in-band on every edge behind those rows; each stage passes it on
// once the rows it received before it have left the stage (at once for a
// stateless transform; when the window holding them is emitted for a
// window stage; at the end of input for the other stateful operators); a
// sink acknowledges it once the rows it received before it are durably
// written (after each write for sinks that write through, after Close for
// the file writers that publish atomically at the end). When every path
// from the source to the sinks has acknowledged it, the source's callback
// runs: everything the source emitted before the barrier has reached every
// sink. A barrier on a stage that fails is never acknowledged, so what it
// covers is read again after a restart: at-least-once.
type Barrier struct {
	refs atomic.Int64
	once sync.Once
	done func()
}

// NewBarrier returns a barrier whose done runs once, when it is fully
// acknowledged.
func NewBarrier(done func()) *Barrier {
	b := &Barrier{done: done}
	b.refs.Store(1)
	return b
}

// Ack acknowledges one path of the barrier.
func (b *Barrier) Ack() {
	if b.refs.Add(-1) == 0 && b.done != nil {
		b.once.Do(b.done)
	}
}

// Durable is implemented by sinks that can make what they have written
// durable on demand (flushing a stream, waiting for a broker's
// acknowledgement). A barrier reaching such a sink is acknowledged right
// after Durable returns nil; a barrier reaching any other sink is held
// until its Close succeeds.
type Durable interface {
	Durable(ctx context.Context, st *Stage) error
}

// HandleBarriers makes Recv (and RecvFrom) deliver MsgBarrier messages to
// the operator, which then owns them: it must pass each on with
// ForwardBarrier (or acknowledge it, as a sink) once the rows it received
// before the barrier have left it. Without it, the runtime holds barriers
// until the operator has finished.
func (s *Stage) HandleBarriers() { s.handleBarriers = true }

// EmitBarrier emits a new barrier on the stage's outputs; done runs when
// every sink downstream has acknowledged it.
func (s *Stage) EmitBarrier(ctx context.Context, done func()) error {
	return s.ForwardBarrier(ctx, NewBarrier(done))
}

// ForwardBarrier passes a barrier on, on every output port that has
// consumers (so rows sent to a late or errors port before it are covered
// too). With no consumer at all it is acknowledged.
func (s *Stage) ForwardBarrier(ctx context.Context, b *Barrier) error {
	if s.collect != nil {
		b.Ack()
		return nil
	}
	n := 0
	for _, outs := range s.outputs {
		n += len(outs)
	}
	if n == 0 {
		b.Ack()
		return nil
	}
	b.refs.Add(int64(n - 1))
	m := Message{Kind: MsgBarrier, Barrier: b}
	for _, outs := range s.outputs {
		if len(outs) == 0 {
			continue
		}
		if err := s.send(ctx, outs, m); err != nil {
			return err
		}
	}
	return nil
}

// HoldBarrier keeps b until the operator finishes (runtime-held).
func (s *Stage) HoldBarrier(b *Barrier) { s.heldBarriers = append(s.heldBarriers, b) }

// releaseHeld passes on (transforms and sources) or acknowledges (sinks)
// the barriers held until the operator finished successfully.
func (s *Stage) releaseHeld(ctx context.Context, sink bool) error {
	held := s.heldBarriers
	s.heldBarriers = nil
	for _, b := range held {
		if sink {
			b.Ack()
			continue
		}
		if err := s.ForwardBarrier(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// AfterRun registers f to run once every stage of the pipeline has ended,
// whatever the outcome, before Runner.Run returns: a source that commits
// what its sinks acknowledged (Kafka offsets) finishes its commits there,
// since the last acknowledgements come when the sinks close, after the
// source itself returned.
func (s *Stage) AfterRun(f func()) { s.afterRun = append(s.afterRun, f) }

// MapBatches is the receive loop of an operator that replaces each data
// batch by fn's result (nil: nothing emitted) and holds no rows between
// batches: watermarks and barriers are passed on in place, at once. It
// owns the input batches (fn borrows them) and returns at the end of
// input or on fn's first error. Unlike a Transformer, fn's errors are not
// retried or turned into rejections by the runtime: the operator applies
// its own policy (per-row retries and rejections, as HTTP and AI calls do).
func (s *Stage) MapBatches(ctx context.Context, fn func(in arrow.RecordBatch) (arrow.RecordBatch, error)) error {
	s.HandleBarriers()
	for {
		msg, ok, err := s.Recv(ctx)
		if err != nil || !ok {
			return err
		}
		switch msg.Kind {
		case MsgBarrier:
			err = s.ForwardBarrier(ctx, msg.Barrier)
		case MsgWatermark:
			err = s.EmitWatermark(ctx, msg.Watermark)
		case MsgData:
			var out arrow.RecordBatch
			out, err = fn(msg.Batch)
			msg.Batch.Release()
			if err == nil {
				err = s.Emit(ctx, out)
			}
		}
		if err != nil {
			return err
		}
	}
}
