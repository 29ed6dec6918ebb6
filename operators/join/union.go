package join

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

const unionName = "union.apply"

// unionHold bounds how many batches union.apply holds while it waits for
// the first batch of every input.
const unionHold = 16

// unionOp is union.apply's Operator. It is not safe for concurrent use.
type unionOp struct {
	mem    memory.Allocator
	schema *arrow.Schema // unified output schema so far
	seen   []bool        // per input: a batch arrived
	held   []arrow.RecordBatch
	heldIn []int       // input of each held batch
	wm     []time.Time // per input: last watermark
	// holding is true until every input has sent a batch or unionHold
	// batches are held.
	holding bool
	sentWM  time.Time
}

func newUnion(cfg flow.Config, env flow.BuildEnv) (any, error) {
	return &unionOp{mem: env.Alloc}, nil
}

// Run implements flow.Operator: batches are passed on as they arrive, each
// projected onto the unified schema. Until every input has sent a batch
// (or up to unionHold batches) the batches are held, so that the unified
// schema is known before the first output batch.
func (u *unionOp) Run(ctx context.Context, st *flow.Stage) error {
	u.seen = make([]bool, st.NumInputs())
	u.wm = make([]time.Time, st.NumInputs())
	defer func() {
		for _, b := range u.held {
			b.Release()
		}
	}()
	waiting := st.NumInputs()
	u.holding = true
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if msg.Kind == flow.MsgWatermark {
			if err := u.watermark(ctx, st, msg.Input, msg.Watermark); err != nil {
				return err
			}
			continue
		}
		if msg.Kind != flow.MsgData || msg.Batch == nil {
			continue
		}
		b := msg.Batch
		if u.schema == nil {
			u.schema = b.Schema()
		} else if !u.schema.Equal(b.Schema()) {
			u.schema = batch.Unify(u.schema, b.Schema())
		}
		// (While holding, flushHeld recomputes the schema in input order.)
		if !u.seen[msg.Input] {
			u.seen[msg.Input] = true
			waiting--
		}
		if u.holding {
			u.held = append(u.held, b)
			u.heldIn = append(u.heldIn, msg.Input)
			if waiting > 0 && len(u.held) < unionHold {
				continue
			}
			u.holding = false
			if err := u.flushHeld(ctx, st); err != nil {
				return err
			}
			continue
		}
		if err := u.emit(ctx, st, b); err != nil {
			return err
		}
	}
	return u.flushHeld(ctx, st)
}

// flushHeld emits the held batches ordered by input (stable within an
// input), after unifying their schemas in that order.
func (u *unionOp) flushHeld(ctx context.Context, st *flow.Stage) error {
	held := u.held
	order := make([]int, len(held))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return u.heldIn[order[a]] < u.heldIn[order[b]] })
	sorted := make([]arrow.RecordBatch, len(held))
	schemas := make([]*arrow.Schema, 0, len(held)+1)
	for i, o := range order {
		sorted[i] = held[o]
		schemas = append(schemas, held[o].Schema())
	}
	held = sorted
	if len(held) > 0 {
		u.schema = batch.Unify(schemas...)
	}
	u.held, u.heldIn = nil, nil
	for i, b := range held {
		held[i] = nil
		if err := u.emit(ctx, st, b); err != nil {
			for _, b := range held[i+1:] {
				b.Release()
			}
			return err
		}
	}
	return nil
}

// emit projects b (owned) onto the unified schema and emits it.
func (u *unionOp) emit(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	out, err := batch.Project(u.mem, b, u.schema)
	b.Release()
	if err != nil {
		return fmt.Errorf("%s: %w", unionName, err)
	}
	return st.Emit(ctx, out)
}

// watermark forwards the minimum watermark over the inputs once every
// input has sent one.
func (u *unionOp) watermark(ctx context.Context, st *flow.Stage, input int, t time.Time) error {
	if t.After(u.wm[input]) {
		u.wm[input] = t
	}
	low := u.wm[0]
	for _, w := range u.wm {
		if w.IsZero() {
			return nil
		}
		if w.Before(low) {
			low = w
		}
	}
	if !low.After(u.sentWM) {
		return nil
	}
	u.sentWM = low
	return st.EmitWatermark(ctx, low)
}

func unionSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	for _, s := range inputs {
		if s == nil {
			return nil, nil
		}
	}
	return batch.Unify(inputs...), nil
}
