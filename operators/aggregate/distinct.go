package aggregate

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
)

// DistinctSpec returns distinct.apply's spec (a new value on each call).
func DistinctSpec() *flow.Spec {
	return &flow.Spec{
		Name:    distinctName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.distinct"},
		Tags:    []string{"relational"},
		Summary: "Drop duplicate rows (by all columns or a subset).",
		Description: `Two rows are duplicates when they are equal in every column of subset (default: every
column). Equality is that of groupby.apply's keys: null equals null, NaN equals NaN,
-0.0 equals 0.0, dictionary-encoded values compare by value. Column types must be
key types (numbers, bools, strings, binary, dates, times, timestamps, dictionaries).

keep = "first" (the default) keeps the first row of each key and streams: each input
batch yields, right away, its rows whose key was not seen before, in input order.
Memory holds the distinct keys only.

keep = "last" keeps the last row of each key. It is blocking: at the end of input it
emits, in order of first appearance of each key, the last row having that key (so the
output order is the same as keep = "first"'s, with later values). Memory holds the
kept rows (compacted as the input goes), proportional to the number of distinct keys.`,
		Params: []flow.Param{
			{Name: "subset", Type: flow.TypeStringOrList, Doc: "Columns that define a duplicate (default: all columns)."},
			{Name: "keep", Type: flow.TypeString, Default: "first", Allowed: []string{"first", "last"}, Doc: "Which row of each key to keep."},
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			d := &distinctOp{last: cfg.Str("keep") == "last", batchSize: env.BatchSize}
			if cfg.Has("subset") {
				d.subset = cfg.Strings("subset")
			}
			if d.batchSize <= 0 {
				d.batchSize = 65536
			}
			return d, nil
		},
		Uses: func(cfg flow.Config, needed []string) []string {
			if needed == nil || !cfg.Has("subset") {
				return nil // every column is part of the key
			}
			out := append([]string{}, needed...)
			for _, c := range cfg.Strings("subset") {
				if !contains(out, c) {
					out = append(out, c)
				}
			}
			return out
		},
		Schema: func(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
			var subset []string
			if cfg.Has("subset") {
				subset = cfg.Strings("subset")
			}
			if _, err := distinctKeys(subset, inputs[0]); err != nil {
				return nil, err
			}
			return inputs[0], nil
		},
		Examples: []flow.Example{
			{
				Title:  "Drop repeated rows",
				Config: "",
				Input:  "{\"a\":1,\"b\":\"x\"}\n{\"a\":1,\"b\":\"y\"}\n{\"a\":1,\"b\":\"x\"}\n{\"a\":null,\"b\":\"x\"}\n{\"a\":null,\"b\":\"x\"}\n",
				Output: "{\"a\":1,\"b\":\"x\"}\n{\"a\":1,\"b\":\"y\"}\n{\"a\":null,\"b\":\"x\"}\n",
			},
			{
				Title:  "Latest status per user",
				Config: "subset = \"user\"\nkeep = \"last\"\n",
				Input:  "{\"user\":\"ann\",\"status\":\"new\"}\n{\"user\":\"bob\",\"status\":\"new\"}\n{\"user\":\"ann\",\"status\":\"paid\"}\n",
				Output: "{\"user\":\"ann\",\"status\":\"paid\"}\n{\"user\":\"bob\",\"status\":\"new\"}\n",
			},
		},
	}
}

// distinctKeys resolves the key columns (all columns when subset is nil).
func distinctKeys(subset []string, schema *arrow.Schema) ([]int, error) {
	var idx []int
	if subset == nil {
		for i := range schema.NumFields() {
			idx = append(idx, i)
		}
	} else {
		for _, name := range subset {
			i := index(schema, name)
			if i < 0 {
				return nil, unknownColumn(distinctName, "subset", schema, name)
			}
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		if err := rowkey.Supported(schema.Field(i).Type); err != nil {
			key := "subset"
			return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("%s: column %q: %w", distinctName, schema.Field(i).Name, err)}
		}
	}
	if len(idx) == 0 {
		return nil, &flow.ParamError{Key: "subset", Err: fmt.Errorf("%s: no column to compare", distinctName)}
	}
	return idx, nil
}

// distinctOp is distinct.apply's Transformer (and Flusher for keep=last).
type distinctOp struct {
	subset    []string
	last      bool
	batchSize int

	schema *arrow.Schema
	keyIdx []int
	tab    *rowkey.Table
	ids    []int32
	sel    []int32
	keys   []arrow.Array

	// keep=last: retained batches and, per key, where its last row is.
	held     []arrow.RecordBatch
	heldRows int
	winBatch []int32
	winRow   []int32
}

func (d *distinctOp) bindSchema(schema *arrow.Schema) error {
	if d.schema != nil && (d.schema == schema || d.schema.Equal(schema)) {
		return nil
	}
	if d.schema != nil && d.last {
		return fmt.Errorf("%s: input schema changed from %s to %s (keep = \"last\" needs one schema)", distinctName, d.schema, schema)
	}
	idx, err := distinctKeys(d.subset, schema)
	if err != nil {
		return err
	}
	types := make([]arrow.DataType, len(idx))
	for i, k := range idx {
		types[i] = schema.Field(k).Type
	}
	if d.tab == nil {
		if d.tab, err = rowkey.New(nil, types); err != nil {
			return fmt.Errorf("%s: %w", distinctName, err)
		}
	}
	d.schema, d.keyIdx = schema, idx
	return nil
}

// Transform emits (keep=first) the rows of in whose key is new, or
// (keep=last) records in and emits nothing.
func (d *distinctOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := d.bindSchema(in.Schema()); err != nil {
		return nil, err
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	d.ids = grow(d.ids, n)
	ids := d.ids[:n]
	d.keys = d.keys[:0]
	for _, k := range d.keyIdx {
		d.keys = append(d.keys, in.Column(k))
	}
	next := int32(d.tab.Len())
	if err := d.tab.Insert(d.keys, ids); err != nil {
		return nil, fmt.Errorf("%s: %w", distinctName, err)
	}
	if d.last {
		return nil, d.hold(ctx, st, in, ids)
	}
	d.sel = d.sel[:0]
	for i, id := range ids {
		if id == next {
			d.sel = append(d.sel, int32(i))
			next++
		}
	}
	d.notePeak(st)
	switch len(d.sel) {
	case 0:
		return nil, nil
	case n:
		in.Retain()
		return in, nil
	}
	return takeRows(ctx, st.Alloc, in, d.sel)
}

func (d *distinctOp) hold(ctx context.Context, st *flow.Stage, in arrow.RecordBatch, ids []int32) error {
	in.Retain()
	bi := int32(len(d.held))
	d.held = append(d.held, in)
	d.heldRows += len(ids)
	ng := d.tab.Len()
	d.winBatch, d.winRow = grow(d.winBatch, ng), grow(d.winRow, ng)
	for i, id := range ids {
		d.winBatch[id], d.winRow[id] = bi, int32(i)
	}
	if d.heldRows > 4*ng+d.batchSize {
		if err := d.compact(ctx, st.Alloc); err != nil {
			return err
		}
	}
	d.notePeak(st)
	return nil
}

// compact replaces the held batches by one batch of the winning rows in
// key order.
func (d *distinctOp) compact(ctx context.Context, mem memory.Allocator) error {
	ng := d.tab.Len()
	all, err := batch.Concat(mem, d.held)
	if err != nil {
		return fmt.Errorf("%s: %w", distinctName, err)
	}
	defer all.Release()
	starts := make([]int32, len(d.held))
	s := int32(0)
	for i, b := range d.held {
		starts[i] = s
		s += int32(b.NumRows())
	}
	idx := make([]int32, ng)
	for g := range ng {
		idx[g] = starts[d.winBatch[g]] + d.winRow[g]
	}
	out, err := takeRows(ctx, mem, all, idx)
	if err != nil {
		return err
	}
	d.releaseHeld()
	d.held, d.heldRows = []arrow.RecordBatch{out}, ng
	for g := range ng {
		d.winBatch[g], d.winRow[g] = 0, int32(g)
	}
	return nil
}

func (d *distinctOp) releaseHeld() {
	for _, b := range d.held {
		b.Release()
	}
	d.held, d.heldRows = nil, 0
}

// Flush emits keep=last's rows, in order of first appearance of each key.
func (d *distinctOp) Flush(ctx context.Context, st *flow.Stage) error {
	defer func() {
		d.releaseHeld()
		if d.tab != nil {
			d.tab.Release()
		}
	}()
	if !d.last || len(d.held) == 0 {
		return nil
	}
	if err := d.compact(ctx, st.Alloc); err != nil {
		return err
	}
	all := d.held[0]
	n := all.NumRows()
	for lo := int64(0); lo < n; lo += int64(d.batchSize) {
		hi := min(lo+int64(d.batchSize), n)
		if err := st.Emit(ctx, all.NewSlice(lo, hi)); err != nil {
			return err
		}
	}
	return nil
}

func (d *distinctOp) notePeak(st *flow.Stage) {
	if st.Metrics() == nil {
		return
	}
	b := d.tab.Bytes() + int64(cap(d.ids)+cap(d.sel)+cap(d.winBatch)+cap(d.winRow))*4
	for _, h := range d.held {
		b += batchBytes(h)
	}
	m := &st.Metrics().PeakBytes
	for {
		old := m.Load()
		if b <= old || m.CompareAndSwap(old, b) {
			return
		}
	}
}

func batchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		n += int64(arraySize(c.Data()))
	}
	return n
}

func arraySize(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += b.Len()
		}
	}
	for _, c := range d.Children() {
		n += arraySize(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
			n += arraySize(dict)
		}
	}
	return n
}

// takeRows returns the rows idx of b, in that order, as a new batch.
func takeRows(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	ib := array.NewInt32Builder(mem)
	ib.AppendValues(idx, nil)
	ia := ib.NewArray()
	ib.Release()
	defer ia.Release()
	cols := make([]arrow.Array, b.NumCols())
	cctx := compute.WithAllocator(ctx, mem)
	for i, c := range b.Columns() {
		out, err := compute.TakeArray(cctx, c, ia)
		if err != nil {
			for _, x := range cols[:i] {
				x.Release()
			}
			return nil, fmt.Errorf("%s: column %q: %w", distinctName, b.Schema().Field(i).Name, err)
		}
		cols[i] = out
	}
	out := array.NewRecordBatch(b.Schema(), cols, int64(len(idx)))
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}
