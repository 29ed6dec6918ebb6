package window

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/flow"
)

// testHook, when set (tests only), is called after the operator handled
// each message or timer, so that tests on a mock clock know when to move
// it.
var testHook func(stage string, e *engine)

// op runs an engine as a flow.Operator.
type op struct {
	e *engine
}

type received struct {
	msg flow.Message
	ok  bool
	err error
	at  time.Time
}

// Run receives on a helper goroutine (so that timers — processing-time
// windows, idle inputs — fire while no message arrives) and drives the
// engine on the stage's goroutine.
func (o *op) Run(ctx context.Context, st *flow.Stage) (err error) {
	e := o.e
	st.ReportInputEnds()
	st.HandleBarriers()
	if e.set.idle > 0 {
		st.SetIdleTimeout(e.set.idle)
	}
	start := st.Clock.Now()
	e.now = start
	e.inputs = make([]inputState, st.NumInputs())
	for i := range e.inputs {
		e.inputs[i] = inputState{max: none, lastSeen: start}
	}
	defer e.close()

	msgs := make(chan received)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, ok, err := st.Recv(rctx)
			r := received{m, ok, err, st.Clock.Now()}
			select {
			case msgs <- r:
			case <-rctx.Done():
				if m.Batch != nil {
					m.Batch.Release()
				}
				return
			}
			if !ok || err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-done
	}()

	for {
		var timer *clock.Timer
		var timerC <-chan time.Time
		if due, ok := o.nextDue(); ok {
			now := st.Clock.Now()
			if !due.After(now) {
				if err := o.tick(ctx, st, now); err != nil {
					return err
				}
				continue
			}
			timer = st.Clock.Timer(due.Sub(now))
			timerC = timer.C
			if !st.Clock.Now().Before(due) {
				// The clock moved while the timer was set up.
				timer.Stop()
				if err := o.tick(ctx, st, st.Clock.Now()); err != nil {
					return err
				}
				continue
			}
		}
		select {
		case r := <-msgs:
			if timer != nil {
				timer.Stop()
			}
			if r.err != nil {
				return r.err
			}
			if !r.ok {
				return o.finish(ctx, st)
			}
			if err := o.handle(ctx, st, r); err != nil {
				return err
			}
		case <-timerC:
			if err := o.tick(ctx, st, st.Clock.Now()); err != nil {
				return err
			}
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		}
		if testHook != nil {
			testHook(st.ID, e)
		}
	}
}

// nextDue is the next processing time something happens without input.
func (o *op) nextDue() (time.Time, bool) {
	e := o.e
	var due time.Time
	if t, ok := e.nextFire(); ok {
		due = time.UnixMicro(t)
	}
	if t := e.nextIdle(); !t.IsZero() && (due.IsZero() || t.Before(due)) {
		due = t
	}
	return due, !due.IsZero()
}

func (o *op) handle(ctx context.Context, st *flow.Stage, r received) error {
	e := o.e
	m := r.msg
	if m.Input < len(e.inputs) {
		in := &e.inputs[m.Input]
		in.lastSeen, in.idle = r.at, false
	}
	e.markIdle(r.at)
	switch m.Kind {
	case flow.MsgData:
		if m.Batch == nil {
			return nil
		}
		err := e.process(ctx, st, m.Batch, m.Input, r.at)
		m.Batch.Release()
		if err != nil {
			return err
		}
		e.notePeak(st)
	case flow.MsgWatermark:
		e.inband = max(e.inband, m.Watermark.UnixMicro())
	case flow.MsgInputEnd:
		e.inputs[m.Input].ended = true
	case flow.MsgBarrier:
		e.barrier(m.Barrier)
	}
	e.now = r.at
	return o.progress(ctx, st)
}

func (o *op) tick(ctx context.Context, st *flow.Stage, now time.Time) error {
	e := o.e
	e.now = now
	e.markIdle(now)
	return o.progress(ctx, st)
}

// progress advances the watermark, emits what it completes and forwards
// the output watermark.
func (o *op) progress(ctx context.Context, st *flow.Stage) error {
	e := o.e
	e.advance()
	if err := e.fire(ctx, st, e.wm, false); err != nil {
		return err
	}
	e.compactKeys()
	if err := e.releaseBarriers(ctx, st); err != nil {
		return err
	}
	out := e.wm
	if out != none && e.set.timeCol != "" && out != endOfTime {
		out -= e.set.lateness // windows within the lateness may still emit
	}
	if e.set.kind == kCount {
		out = e.inband
	}
	if out != none && out > e.outWM && out != endOfTime {
		e.outWM = out
		return st.EmitWatermark(ctx, time.UnixMicro(out).UTC())
	}
	return nil
}

// finish handles the end of input: every open window is emitted (the
// watermark is +∞), unless the pipeline is draining and on_shutdown is
// "drop".
func (o *op) finish(ctx context.Context, st *flow.Stage) error {
	e := o.e
	draining := false
	select {
	case <-st.Draining():
		draining = true
	default:
	}
	if draining && e.set.dropOnShutdown {
		if n := e.dropAll(); n > 0 {
			st.Logger.Warn(fmt.Sprintf("%s: draining: dropped %d open window(s) (on_shutdown = \"drop\")", e.set.stage, n))
		}
		// The dropped rows were not emitted: their barriers are not
		// passed on, so a source that commits (Kafka) reads them again.
		e.barriers = nil
		return nil
	}
	e.now = st.Clock.Now()
	if err := e.fire(ctx, st, endOfTime, true); err != nil {
		return err
	}
	return e.releaseBarriers(ctx, st)
}
