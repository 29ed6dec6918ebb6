package plugins

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// instance is one running instance of a plugin stage, in this process or
// in a child process. Its methods are called from one goroutine at a time.
type instance interface {
	// process hands in over (borrowed: the caller still releases it) and
	// returns the output batch, or nil.
	process(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error)
	// next returns a source's next batch, or end.
	next(ctx context.Context) (b arrow.RecordBatch, end bool, err error)
	// flush ends the input: a stateful transform's last batch (or nil), a
	// sink's commit.
	flush(ctx context.Context) (arrow.RecordBatch, error)
	// destroy frees the instance; safe to call more than once.
	destroy()
}

// core owns a stage's instance: created on first use, destroyed once.
// The operator wrapping it registers a cleanup, so an instance is freed
// even where the runtime never reports the end of the stage.
type core struct {
	path   string
	create func() (instance, error)

	mu     sync.Mutex
	inst   instance
	closed bool
}

func (c *core) get(st *flow.Stage) (instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inst != nil {
		return c.inst, nil
	}
	if c.closed {
		return nil, fmt.Errorf("plugin %s: %w", c.path, ErrClosed)
	}
	inst, err := c.create()
	if err != nil {
		return nil, c.wrap(err)
	}
	c.inst = inst
	if st != nil {
		st.AfterRun(c.close)
	}
	return inst, nil
}

// close destroys the instance (if any) and refuses new ones.
func (c *core) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.inst != nil {
		c.inst.destroy()
	}
}

// wrap names the plugin file in err (once).
func (c *core) wrap(err error) error {
	if err == nil || strings.HasPrefix(err.Error(), "plugin "+c.path+":") {
		return err
	}
	return fmt.Errorf("plugin %s: %w", c.path, err)
}

func newOp(c *core, s *StageInfo) any {
	switch {
	case s.Kind == "source":
		return withCleanup(&sourceOp{c: c}, c)
	case s.Kind == "sink":
		return withCleanup(&sinkOp{c: c}, c)
	case s.Stateful:
		return withCleanup(&statefulOp{transformOp{c: c}}, c)
	}
	return withCleanup(&transformOp{c: c}, c)
}

// withCleanup destroys c's instance once op is garbage: a backstop for
// runs that never report the end of the stage (flow.RunIsolated).
func withCleanup[T any](op *T, c *core) *T {
	runtime.AddCleanup(op, func(c *core) { c.close() }, c)
	return op
}

// transformOp is a stateless plugin transform.
type transformOp struct{ c *core }

// Transform lends in to the plugin and returns its output (nil when it
// emitted nothing).
func (o *transformOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	inst, err := o.c.get(st)
	if err != nil {
		return nil, err
	}
	out, err := inst.process(ctx, in)
	return out, o.c.wrap(err)
}

// statefulOp is a plugin transform that holds rows until its flush.
type statefulOp struct{ transformOp }

// Flush calls the plugin's flush, emits its last batch and destroys the
// instance.
func (o *statefulOp) Flush(ctx context.Context, st *flow.Stage) error {
	inst, err := o.c.get(st)
	if err != nil {
		return err
	}
	out, err := inst.flush(ctx)
	o.c.close()
	if err != nil {
		return fmt.Errorf("stage %q: %w", st.ID, o.c.wrap(err))
	}
	return st.Emit(ctx, out)
}

// sourceOp runs a plugin source until it ends or the pipeline drains.
type sourceOp struct{ c *core }

func (o *sourceOp) Run(ctx context.Context, st *flow.Stage) error {
	defer o.c.close()
	inst, err := o.c.get(st)
	if err != nil {
		return fmt.Errorf("stage %q: %w", st.ID, err)
	}
	for {
		select {
		case <-st.Draining():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		b, end, err := inst.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stage %q: %w", st.ID, o.c.wrap(err))
		}
		if end {
			return nil
		}
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
	}
}

// sinkOp hands batches to a plugin sink; Close is its commit.
type sinkOp struct{ c *core }

func (o *sinkOp) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	inst, err := o.c.get(st)
	if err != nil {
		return err
	}
	out, err := inst.process(ctx, b)
	if out != nil {
		out.Release()
	}
	return o.c.wrap(err)
}

// Close flushes the plugin sink (its commit) and destroys the instance.
func (o *sinkOp) Close(ctx context.Context, st *flow.Stage) error {
	inst, err := o.c.get(st)
	if err != nil {
		return err
	}
	out, err := inst.flush(ctx)
	if out != nil {
		out.Release()
	}
	o.c.close()
	if err != nil {
		return fmt.Errorf("stage %q: %w", st.ID, o.c.wrap(err))
	}
	return nil
}

// Abort destroys the instance without a flush: the plugin discards its
// partial output.
func (o *sinkOp) Abort() { o.c.close() }

// Durable is not implemented: a plugin sink's rows are durable after its
// flush, so barriers are acknowledged when the sink closes.
var _ flow.Sink = (*sinkOp)(nil)
