package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// runOperator drives one stage's operator to completion. op is what the
// spec's constructor returned: an Operator, a Transformer or a Sink.
func runOperator(ctx context.Context, st *Stage, op any) (err error) {
	st.metrics.started.Store(max(st.Clock.Now().UnixNano(), 1)) // 0 means "not started"
	defer func() {
		st.stopMerge()
		if ferr := st.FlushRejections(ctx); err == nil {
			err = ferr
		}
		st.metrics.finished.Store(max(st.Clock.Now().UnixNano(), 1))
	}()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stage %q panicked: %v", st.ID, r)
		}
	}()
	// Operators holding outside resources (a plugin instance, a child
	// process) release them when the stage ends, however it ends.
	if c, ok := op.(interface{ Close() error }); ok {
		defer func() {
			if cerr := c.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("stage %q: %w", st.ID, cerr)
			}
		}()
	}
	switch o := op.(type) {
	case Operator:
		if err := o.Run(ctx, st); err != nil {
			return err
		}
		return st.releaseHeld(ctx, st.Spec != nil && st.Spec.Kind == KindSink)
	case Transformer:
		return runTransformer(ctx, st, o)
	case Sink:
		return runSink(ctx, st, o)
	}
	return fmt.Errorf("stage %q: constructor returned %T, which is not an Operator, Transformer or Sink", st.ID, op)
}

func runTransformer(ctx context.Context, st *Stage, t Transformer) error {
	// A stateless transform passes barriers on at once (the rows before
	// them have been emitted); one that holds rows until its Flush holds
	// them until then.
	st.HandleBarriers()
	_, stateful := t.(Flusher)
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if msg.Kind == MsgBarrier {
			if stateful {
				st.HoldBarrier(msg.Barrier)
			} else if err := st.ForwardBarrier(ctx, msg.Barrier); err != nil {
				return err
			}
			continue
		}
		if msg.Kind != MsgData {
			if msg.Kind == MsgWatermark {
				if err := st.EmitWatermark(ctx, msg.Watermark); err != nil {
					return err
				}
			}
			continue
		}
		in := msg.Batch
		var out arrow.RecordBatch
		err = st.withRetry(ctx, func() error {
			var e error
			out, e = t.Transform(ctx, st, in)
			return e
		})
		if err != nil {
			err = st.batchFailed(ctx, in, err)
			in.Release()
			if err != nil {
				return err
			}
			continue
		}
		in.Release()
		if err := st.Emit(ctx, out); err != nil {
			return err
		}
	}
	if f, ok := t.(Flusher); ok {
		if err := f.Flush(ctx, st); err != nil {
			return err
		}
	}
	return st.releaseHeld(ctx, false)
}

func runSink(ctx context.Context, st *Stage, s Sink) (err error) {
	defer func() {
		if err != nil {
			s.Abort()
		}
	}()
	// A barrier is acknowledged once what was written before it is
	// durable: at once after Durable for sinks that have it, after Close
	// for the others.
	st.HandleBarriers()
	durable, _ := s.(Durable)
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if msg.Kind == MsgBarrier {
			if durable == nil {
				st.HoldBarrier(msg.Barrier)
				continue
			}
			if err := durable.Durable(ctx, st); err != nil {
				return fmt.Errorf("stage %q: %w", st.ID, err)
			}
			msg.Barrier.Ack()
			continue
		}
		if msg.Kind != MsgData {
			continue
		}
		b := msg.Batch
		err = st.withRetry(ctx, func() error { return s.Write(ctx, st, b) })
		if err != nil {
			err = st.batchFailed(ctx, b, err)
		} else {
			st.metrics.RowsOut.Add(b.NumRows())
			st.metrics.BatchesOut.Add(1)
		}
		b.Release()
		if err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.Close(ctx, st); err != nil {
		return err
	}
	return st.releaseHeld(ctx, true)
}

// withRetry runs f once, and under the "retry" strategy up to maxRetries
// more times, waiting retryDelay (doubling) on the stage's clock between
// attempts. Context errors are never retried.
func (s *Stage) withRetry(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || s.strategy != StrategyRetry {
		return err
	}
	delay := s.retryDelay
	for attempt := 1; attempt <= s.maxRetries && err != nil; attempt++ {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return err
		}
		s.metrics.Retries.Add(1)
		s.Logger.Warn("retrying batch", "attempt", attempt, "of", s.maxRetries, "error", err)
		if delay > 0 {
			t := s.Clock.Timer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			delay *= 2
		}
		err = f()
	}
	return err
}

// batchFailed applies the error strategy to a batch whose processing failed
// for good: under "stop" the error is returned (fatal); otherwise each row
// is rejected with the error and the stage goes on.
func (s *Stage) batchFailed(ctx context.Context, b arrow.RecordBatch, err error) error {
	if s.strategy == StrategyStop || ctx.Err() != nil {
		var re *RowError
		if errors.As(err, &re) {
			return err
		}
		return fmt.Errorf("stage %q: %w", s.ID, err)
	}
	rows, rerr := rowsOf(b)
	if rerr != nil {
		return fmt.Errorf("stage %q: %w (and the batch could not be dead-lettered: %v)", s.ID, err, rerr)
	}
	for _, r := range rows {
		if e := s.Reject(ctx, Rejection{Err: err, Row: r}); e != nil {
			return e
		}
	}
	return nil
}

// retryDelayFor converts the pipeline's retry_delay_seconds.
func retryDelayFor(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second))
}
