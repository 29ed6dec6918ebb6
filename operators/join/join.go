package join

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
	"github.com/conveyor-etl/conveyor/operators/order"
	"github.com/conveyor-etl/conveyor/operators/order/gather"
)

// joinOp is join.apply's Operator: a hash join whose build side is the
// right input. It is not safe for concurrent use.
type joinOp struct {
	cfg       *config
	mem       memory.Allocator
	batchSize int
	peak      *atomic.Int64

	right      []arrow.RecordBatch // build side, owned
	rightBytes int64
	rightDone  bool
	left       []arrow.RecordBatch // probe batches held until the build is ready
	leftBytes  int64

	// Built on the first probe (or at the end).
	built    bool
	rschema  *arrow.Schema
	lschema  *arrow.Schema
	lay      *layout
	table    *rowkey.Table
	ids      [][]int32 // per right batch, per row: group id or -1
	off      []int32   // group g's rows are refs[off[g]:off[g+1]]
	refSrc   []uint32
	refRow   []uint32
	matched  []bool // per group, for right and full joins
	rg       *gather.Gatherer
	zeros    []uint32
	outBytes int64
}

func newJoin(cfg flow.Config, env flow.BuildEnv) (any, error) {
	c, err := readConfig(cfg)
	if err != nil {
		return nil, err
	}
	bs := env.BatchSize
	if bs <= 0 {
		bs = 65536
	}
	return &joinOp{cfg: c, mem: env.Alloc, batchSize: bs}, nil
}

// Run implements flow.Operator. It reads both inputs together (so that a
// shared upstream never blocks on a full left edge while the right one is
// drained), holds the left batches that arrive before the right input has
// ended (reported by a MsgInputEnd), then probes them and streams every
// later left batch, in arrival order.
func (j *joinOp) Run(ctx context.Context, st *flow.Stage) error {
	j.peak = &st.Metrics().PeakBytes
	defer j.release()
	if st.NumInputs() != 2 {
		return fmt.Errorf("%s takes two inputs (left, right), got %d", joinName, st.NumInputs())
	}
	st.ReportInputEnds()
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if msg.Kind == flow.MsgInputEnd && msg.Input == 1 && !j.rightDone {
			// The build side is complete: probe what was held, then
			// stream the rest of the left input.
			if err := j.rightEnded(ctx, st); err != nil {
				return err
			}
			continue
		}
		if msg.Kind != flow.MsgData || msg.Batch == nil {
			continue // watermarks are not forwarded
		}
		b := msg.Batch
		if b.NumRows() == 0 {
			b.Release()
			continue
		}
		switch {
		case msg.Input == 1:
			j.right = append(j.right, b)
			j.rightBytes += order.BatchBytes(b)
			j.notePeak()
		case !j.rightDone:
			j.left = append(j.left, b)
			j.leftBytes += order.BatchBytes(b)
			j.notePeak()
		default:
			err := j.probe(ctx, st, b)
			b.Release()
			if err != nil {
				return err
			}
		}
	}
	if !j.rightDone {
		if err := j.rightEnded(ctx, st); err != nil {
			return err
		}
	}
	return j.finish(ctx, st)
}

// rightEnded probes the held left batches.
func (j *joinOp) rightEnded(ctx context.Context, st *flow.Stage) error {
	j.rightDone = true
	held := j.left
	j.left = nil
	defer func() {
		for _, b := range held {
			if b != nil {
				b.Release()
			}
		}
	}()
	for i, b := range held {
		if err := j.probe(ctx, st, b); err != nil {
			return err
		}
		b.Release()
		held[i] = nil
		j.leftBytes -= order.BatchBytes(b)
	}
	return nil
}

func (j *joinOp) notePeak() {
	v := j.rightBytes + j.leftBytes
	if j.table != nil {
		v += j.table.Bytes() + int64(len(j.refSrc))*8 + int64(len(j.off))*4
		for _, ids := range j.ids {
			v += int64(len(ids)) * 4
		}
	}
	for {
		p := j.peak.Load()
		if v <= p || j.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

func (j *joinOp) release() {
	for _, b := range j.right {
		b.Release()
	}
	for _, b := range j.left {
		b.Release()
	}
	if j.rg != nil {
		j.rg.Release()
	}
	j.right, j.left, j.rg = nil, nil, nil
}

// keyColumns returns the key columns of b (idx) in the form the table
// hashes; the caller releases them.
func (j *joinOp) keyColumns(b arrow.RecordBatch, idx []int) []arrow.Array {
	cols := make([]arrow.Array, len(idx))
	for k, i := range idx {
		cols[k] = j.lay.plans[k].keyColumn(j.mem, b.Column(i))
	}
	return cols
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// build hashes the right input for probing with left schema ls (nil when
// the left input delivered nothing).
func (j *joinOp) build(ls *arrow.Schema) error {
	j.built, j.lschema = true, ls
	if len(j.right) > 0 {
		j.rschema = j.right[0].Schema()
		same := true
		for _, b := range j.right[1:] {
			if !b.Schema().Equal(j.rschema) {
				same = false
				j.rschema = batch.Unify(j.rschema, b.Schema())
			}
		}
		if !same {
			for i, b := range j.right {
				p, err := batch.Project(j.mem, b, j.rschema)
				if err != nil {
					return fmt.Errorf("%s: right input: %w", joinName, err)
				}
				b.Release()
				j.right[i] = p
			}
		}
	}
	lay, err := j.cfg.plan(ls, j.rschema)
	if err != nil {
		return err
	}
	j.lay = lay
	if j.rschema == nil {
		return nil
	}
	j.rg = gather.New(j.mem, j.rschema, j.right)
	if ls == nil {
		// Nothing to probe: every right row is unmatched.
		for _, b := range j.right {
			ids := make([]int32, b.NumRows())
			for i := range ids {
				ids[i] = -1
			}
			j.ids = append(j.ids, ids)
		}
		return nil
	}
	types := make([]arrow.DataType, len(lay.plans))
	for k, p := range lay.plans {
		types[k] = p.keyType(j.rschema.Field(lay.rIdx[k]).Type)
	}
	if j.table, err = rowkey.New(j.mem, types); err != nil {
		return fmt.Errorf("%s: %w", joinName, err)
	}
	for _, b := range j.right {
		cols := j.keyColumns(b, lay.rIdx)
		ids := make([]int32, b.NumRows())
		err := j.table.Insert(cols, ids)
		clearNullKeys(cols, ids)
		releaseAll(cols)
		if err != nil {
			return fmt.Errorf("%s: right input: %w", joinName, err)
		}
		j.ids = append(j.ids, ids)
	}
	// Group the right rows by id, in input order (CSR).
	ng := j.table.Len()
	j.off = make([]int32, ng+1)
	for _, ids := range j.ids {
		for _, g := range ids {
			if g >= 0 {
				j.off[g+1]++
			}
		}
	}
	for g := 1; g <= ng; g++ {
		j.off[g] += j.off[g-1]
	}
	total := j.off[ng]
	j.refSrc = make([]uint32, total)
	j.refRow = make([]uint32, total)
	next := make([]int32, ng)
	copy(next, j.off[:ng])
	for s, ids := range j.ids {
		for r, g := range ids {
			if g >= 0 {
				p := next[g]
				next[g]++
				j.refSrc[p], j.refRow[p] = uint32(s), uint32(r)
			}
		}
	}
	if j.cfg.how == rightOuter || j.cfg.how == fullOuter {
		j.matched = make([]bool, ng)
	}
	j.notePeak()
	return nil
}

// probe joins one left batch (borrowed) with the right input and emits the
// result in batches of at most batchSize rows.
func (j *joinOp) probe(ctx context.Context, st *flow.Stage, lb arrow.RecordBatch) error {
	if !j.built {
		if err := j.build(lb.Schema()); err != nil {
			return err
		}
	} else if !lb.Schema().Equal(j.lschema) {
		// A new left schema: rebind, keeping the table when the keys
		// hash the same way.
		lay, err := j.cfg.plan(lb.Schema(), j.rschema)
		if err != nil {
			return err
		}
		// The table hashes the right keys as first planned: keep the
		// int64 conversion if it was used (a key that no longer fits the
		// table makes Lookup fail with a type mismatch).
		for k := range lay.plans {
			lay.plans[k].toInt = lay.plans[k].toInt || j.lay.plans[k].toInt
		}
		j.lay, j.lschema = lay, lb.Schema()
	}
	how := j.cfg.how
	n := int(lb.NumRows())
	if j.table == nil {
		// The right input is empty.
		switch how {
		case inner, semi, rightOuter:
			return nil
		}
		lb.Retain()
		if how == anti {
			return st.Emit(ctx, lb)
		}
		out, err := j.assemble(lb, identity(n), nil, nil)
		lb.Release()
		if err != nil {
			return err
		}
		return st.Emit(ctx, out)
	}
	cols := j.keyColumns(lb, j.lay.lIdx)
	ids := make([]int32, n)
	err := j.table.Lookup(cols, ids)
	clearNullKeys(cols, ids)
	releaseAll(cols)
	if err != nil {
		return fmt.Errorf("%s: left input: %w", joinName, err)
	}
	lrow := make([]uint32, 0, min(n, j.batchSize))
	var rsrc, rrow []uint32
	if how != semi && how != anti {
		rsrc = make([]uint32, 0, min(n, j.batchSize))
		rrow = make([]uint32, 0, min(n, j.batchSize))
	}
	flush := func() error {
		if len(lrow) == 0 {
			return nil
		}
		if (how == semi || how == anti) && len(lrow) == n {
			lb.Retain()
			lrow = lrow[:0]
			return st.Emit(ctx, lb)
		}
		out, err := j.assemble(lb, lrow, rsrc, rrow)
		lrow, rsrc, rrow = lrow[:0], rsrc[:0], rrow[:0]
		if err != nil {
			return err
		}
		return st.Emit(ctx, out)
	}
	off := j.off
	for i, g := range ids {
		hit := g >= 0 && off[g] < off[g+1]
		switch how {
		case semi:
			if hit {
				lrow = append(lrow, uint32(i))
			}
		case anti:
			if !hit {
				lrow = append(lrow, uint32(i))
			}
		default:
			if hit {
				if j.matched != nil {
					j.matched[g] = true
				}
				for k := off[g]; k < off[g+1]; k++ {
					lrow = append(lrow, uint32(i))
					rsrc = append(rsrc, j.refSrc[k])
					rrow = append(rrow, j.refRow[k])
					if len(lrow) >= j.batchSize {
						if err := flush(); err != nil {
							return err
						}
					}
				}
			} else if how == leftOuter || how == fullOuter {
				lrow = append(lrow, uint32(i))
				rsrc = append(rsrc, gather.NullSrc)
				rrow = append(rrow, 0)
			}
		}
		if len(lrow) >= j.batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func identity(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

func (j *joinOp) zerosOf(n int) []uint32 {
	if len(j.zeros) < n {
		j.zeros = make([]uint32, n)
	}
	return j.zeros[:n]
}

// assemble builds output rows: left row lrow[i] of lb (all nulls when lb
// is nil) with right row (rsrc[i], rrow[i]) (nulls for gather.NullSrc; no
// right columns when rsrc is nil and the layout has none).
func (j *joinOp) assemble(lb arrow.RecordBatch, lrow, rsrc, rrow []uint32) (arrow.RecordBatch, error) {
	n := len(lrow)
	if lb == nil {
		n = len(rsrc)
	}
	var lg *gather.Gatherer
	if lb != nil {
		lg = gather.New(j.mem, lb.Schema(), []arrow.RecordBatch{lb})
		defer lg.Release()
	}
	schema := j.lay.schema
	cols := make([]arrow.Array, 0, len(j.lay.cols))
	defer func() { releaseAll(cols) }()
	for c, oc := range j.lay.cols {
		typ := schema.Field(c).Type
		var (
			a   arrow.Array
			err error
		)
		switch {
		case oc.right && rsrc == nil:
			a = array.MakeArrayOfNull(j.mem, typ, n)
		case oc.right:
			a, err = j.rg.Column(oc.idx, rsrc, rrow)
		case lb != nil:
			a, err = lg.Column(oc.idx, j.zerosOf(n), lrow)
		case oc.coalesce >= 0:
			a, err = j.rg.Column(oc.coalesce, rsrc, rrow)
		default:
			a = array.MakeArrayOfNull(j.mem, typ, n)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", joinName, err)
		}
		if !arrow.TypeEqual(a.DataType(), typ) {
			cast, err := batch.Cast(j.mem, a, typ)
			a.Release()
			if err != nil {
				return nil, fmt.Errorf("%s: column %q: %w", joinName, schema.Field(c).Name, err)
			}
			a = cast
		}
		cols = append(cols, a)
	}
	return array.NewRecordBatch(schema, cols, int64(n)), nil
}

// finish emits, for right and full joins, the right rows no left row
// matched, in right input order.
func (j *joinOp) finish(ctx context.Context, st *flow.Stage) error {
	if !j.built {
		if err := j.build(nil); err != nil {
			return err
		}
	}
	if j.cfg.how != rightOuter && j.cfg.how != fullOuter {
		return nil
	}
	src := make([]uint32, 0, j.batchSize)
	row := make([]uint32, 0, j.batchSize)
	flush := func() error {
		if len(src) == 0 {
			return nil
		}
		out, err := j.assemble(nil, nil, src, row)
		src, row = src[:0], row[:0]
		if err != nil {
			return err
		}
		return st.Emit(ctx, out)
	}
	for s, ids := range j.ids {
		for r, g := range ids {
			if g < 0 || !j.matched[g] {
				src = append(src, uint32(s))
				row = append(row, uint32(r))
				if len(src) == j.batchSize {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	return flush()
}
