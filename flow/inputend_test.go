package flow

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// endsOp records, per input, how many batches arrived before that input's
// MsgInputEnd, and how many ends were reported.
type endsOp struct {
	before map[int]int
	ends   map[int]int
	seen   map[int]int
}

func (o *endsOp) Run(ctx context.Context, st *Stage) error {
	st.ReportInputEnds()
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil || !ok {
			return err
		}
		switch msg.Kind {
		case MsgInputEnd:
			o.ends[msg.Input]++
			o.before[msg.Input] = o.seen[msg.Input]
		case MsgData:
			o.seen[msg.Input]++
			msg.Batch.Release()
		}
	}
}

func TestInputEndsAreReported(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	mk := func(n int) []arrow.RecordBatch {
		var out []arrow.RecordBatch
		for range n {
			b := array.NewInt64Builder(mem)
			b.Append(1)
			a := b.NewArray()
			b.Release()
			out = append(out, array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{a}, 1))
			a.Release()
		}
		return out
	}
	for _, inputs := range [][][]arrow.RecordBatch{{mk(3)}, {mk(2), mk(5)}, {mk(0), mk(1), mk(4)}} {
		op := &endsOp{before: map[int]int{}, ends: map[int]int{}, seen: map[int]int{}}
		spec := &Spec{Name: "t.ends", Kind: KindTransform, Summary: "s", New: func(Config, BuildEnv) (any, error) { return op, nil }}
		res, err := RunIsolated(context.Background(), spec, nil, BuildEnv{Alloc: mem}, "", inputs...)
		if err != nil {
			t.Fatal(err)
		}
		res.Release()
		for i, in := range inputs {
			if op.ends[i] != 1 || op.before[i] != len(in) {
				t.Errorf("%d inputs: input %d: %d ends after %d batches, want 1 after %d", len(inputs), i, op.ends[i], op.before[i], len(in))
			}
		}
	}
}
