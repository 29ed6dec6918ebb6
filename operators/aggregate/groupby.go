package aggregate

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
)

// hashAgg is groupby.apply's and reduce.apply's Transformer/Flusher: it
// folds every batch into per-group accumulators and emits one row per
// group at the end of input. With no keys (reduce) every row belongs to
// the single group 0, which exists even when the input is empty.
type hashAgg struct {
	stage     string
	aggKey    string
	by        []string
	aggs      []aggSpec
	batchSize int

	schema *arrow.Schema // input schema bound
	plan   *plan
	tab    *rowkey.Table // nil without keys
	accs   []accumulator
	ids    []int32
	keys   []arrow.Array // scratch
}

func newHashAgg(stage, aggKey string, by []string, aggs []aggSpec, env flow.BuildEnv) *hashAgg {
	bs := env.BatchSize
	if bs <= 0 {
		bs = 65536
	}
	return &hashAgg{stage: stage, aggKey: aggKey, by: by, aggs: aggs, batchSize: bs}
}

func (h *hashAgg) rebind(schema *arrow.Schema) error {
	p, err := bind(h.stage, h.by, h.aggs, h.aggKey, schema)
	if err != nil {
		return err
	}
	if h.plan != nil {
		// Later batches may order columns differently but must keep types.
		if !p.out.Equal(h.plan.out) {
			return fmt.Errorf("%s: input schema changed from %s to %s: the key and aggregated columns must keep their types", h.stage, h.schema, schema)
		}
		for i, k := range p.keyIdx {
			if !arrow.TypeEqual(schema.Field(k).Type, h.schema.Field(h.plan.keyIdx[i]).Type) {
				return fmt.Errorf("%s: key column %q changed type from %s to %s", h.stage, h.by[i], h.schema.Field(h.plan.keyIdx[i]).Type, schema.Field(k).Type)
			}
		}
		h.plan, h.schema = p, schema
		return nil
	}
	h.plan, h.schema = p, schema
	if len(h.by) > 0 {
		types := make([]arrow.DataType, len(p.keyIdx))
		for i, k := range p.keyIdx {
			types[i] = schema.Field(k).Type
		}
		if h.tab, err = rowkey.New(nil, types); err != nil {
			return fmt.Errorf("%s: by: %w", h.stage, err)
		}
	}
	for i, a := range h.aggs {
		var in arrow.DataType
		if idx := p.aggIdx[i]; idx >= 0 {
			in = schema.Field(idx).Type
		}
		h.accs = append(h.accs, newAccumulator(a.op, in))
	}
	return nil
}

// Transform folds in into the state; it emits nothing.
func (h *hashAgg) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if h.schema == nil || (h.schema != in.Schema() && !h.schema.Equal(in.Schema())) {
		if err := h.rebind(in.Schema()); err != nil {
			return nil, err
		}
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	h.ids = grow(h.ids, n)
	ids := h.ids[:n]
	ng := 1
	if h.tab != nil {
		h.keys = h.keys[:0]
		for _, k := range h.plan.keyIdx {
			h.keys = append(h.keys, in.Column(k))
		}
		if err := h.tab.Insert(h.keys, ids); err != nil {
			return nil, fmt.Errorf("%s: by: %w", h.stage, err)
		}
		ng = h.tab.Len()
	} else {
		clear(ids)
	}
	for i, acc := range h.accs {
		var col arrow.Array
		if idx := h.plan.aggIdx[i]; idx >= 0 {
			col = in.Column(idx)
		}
		acc.update(col, ids, ng)
	}
	h.notePeak(st)
	return nil, nil
}

func (h *hashAgg) stateBytes() int64 {
	n := int64(cap(h.ids)) * 4
	if h.tab != nil {
		n += h.tab.Bytes()
	}
	for _, a := range h.accs {
		n += a.bytes()
	}
	return n
}

func (h *hashAgg) notePeak(st *flow.Stage) {
	if st.Metrics() == nil {
		return
	}
	b := h.stateBytes()
	m := &st.Metrics().PeakBytes
	for {
		old := m.Load()
		if b <= old || m.CompareAndSwap(old, b) {
			return
		}
	}
}

// Flush emits one row per group, in order of first appearance of the key,
// in batches of the pipeline's batch size.
func (h *hashAgg) Flush(ctx context.Context, st *flow.Stage) error {
	defer h.release()
	if h.plan == nil {
		if h.tab != nil || len(h.by) > 0 {
			return nil // no input, no groups
		}
		return h.emitEmptyReduce(ctx, st)
	}
	ng := 1
	if h.tab != nil {
		ng = h.tab.Len()
	}
	for _, a := range h.accs {
		if o, ok := a.(overflower); ok {
			if k := o.overflowed(); k > 0 {
				st.Logger.Warn(fmt.Sprintf("%s: integer sum overflowed int64 in %d group(s): their sum is null", h.stage, k))
			}
		}
	}
	for lo := 0; lo < ng; lo += h.batchSize {
		hi := min(lo+h.batchSize, ng)
		b := h.build(st.Alloc, lo, hi)
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func (h *hashAgg) build(mem memory.Allocator, lo, hi int) arrow.RecordBatch {
	var cols []arrow.Array
	if h.tab != nil {
		cols = h.tab.KeysRange(mem, lo, hi)
	}
	for _, a := range h.accs {
		cols = append(cols, a.result(mem, lo, hi))
	}
	b := array.NewRecordBatch(h.plan.out, cols, int64(hi-lo))
	for _, c := range cols {
		c.Release()
	}
	return b
}

// emitEmptyReduce emits reduce's row for an input that had no batch at
// all: counts are 0; the other results are null, typed float64 for the
// operations whose type does not depend on the input and null otherwise.
func (h *hashAgg) emitEmptyReduce(ctx context.Context, st *flow.Stage) error {
	var fields []arrow.Field
	var cols []arrow.Array
	for _, a := range h.aggs {
		var arr arrow.Array
		switch a.op {
		case opCount, opCountDistinct:
			arr = int64Array(st.Alloc, []int64{0}, nil)
		case opAvg, opMean, opMedian, opStd, opVar:
			arr = float64Array(st.Alloc, []float64{0}, []bool{false})
		default:
			arr = array.NewNull(1)
		}
		fields = append(fields, arrow.Field{Name: a.out, Type: arr.DataType(), Nullable: true})
		cols = append(cols, arr)
	}
	b := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 1)
	for _, c := range cols {
		c.Release()
	}
	return st.Emit(ctx, b)
}

func (h *hashAgg) release() {
	if h.tab != nil {
		h.tab.Release()
	}
	h.accs, h.ids = nil, nil
}
