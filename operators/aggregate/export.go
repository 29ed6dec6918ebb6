package aggregate

// What package window (window.apply, aggregate.stream) shares with
// groupby.apply: the aggregation list and its checks, result types, the
// key table, and the typed accumulators in a "slot" form whose state can be
// reset, merged and gathered per slot (a window's group), so that a window
// operator can release the state of the windows it emits and merge session
// windows. Nothing here changes groupby.apply's behaviour.

import (
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
)

// AggregationDocs documents the operations (shared by every stage that
// takes `aggregations`).
const AggregationDocs = aggregationDocs

// Operations lists the accepted operation names.
func Operations() []string { return slices.Clone(operations) }

// Aggregation is one configured aggregation: Column is "" for a count of
// rows; Output is filled with its default.
type Aggregation struct {
	Column, Operation, Output string
}

// ParseAggregations reads `aggregations` (a list of {column, operation,
// output_column}) and/or the single-aggregation form `column`,
// `operation`, `output_column`, exactly as groupby.apply does.
func ParseAggregations(stage string, cfg flow.Config) ([]Aggregation, []*flow.ConfigError) {
	specs, errs := parseAggs(stage, cfg)
	out := make([]Aggregation, len(specs))
	for i, s := range specs {
		out[i] = Aggregation{Column: s.column, Operation: s.op, Output: s.out}
	}
	return out, errs
}

// ResultType is the output type of op over a column of type in (in is
// ignored for a count of rows), or an error wrapping
// operators.ErrTypeMismatch / ErrUnsupportedType.
func ResultType(op string, in arrow.DataType) (arrow.DataType, error) { return resultType(op, in) }

// KeyTable maps multi-column keys to dense ids (see package
// operators/internal/rowkey).
type KeyTable = rowkey.Table

// NewKeyTable returns an empty key table for the given key column types.
func NewKeyTable(mem memory.Allocator, types []arrow.DataType) (*KeyTable, error) {
	return rowkey.New(mem, types)
}

// KeyOutputType is the type a key column has in KeyTable.Keys
// (dictionaries decoded).
func KeyOutputType(dt arrow.DataType) arrow.DataType { return rowkey.OutputType(dt) }

// KeySupported reports whether dt may be a key column.
func KeySupported(dt arrow.DataType) error { return rowkey.Supported(dt) }

// SlotAccumulator folds one column into per-slot state. Slots are small
// dense integers the caller allocates and recycles: Update folds row i into
// slot slots[i] (nslots bounds every slot), Reset makes a slot empty again,
// Merge folds slot src into dst (src's rows count as arriving after dst's,
// for first and last) and leaves src unchanged, Gather builds the results
// of the listed slots. The semantics of every operation are groupby.apply's.
type SlotAccumulator interface {
	Update(col arrow.Array, slots []int32, nslots int)
	Reset(slot int32)
	Merge(dst, src int32)
	Gather(mem memory.Allocator, slots []int32) arrow.Array
	Bytes() int64
}

// slotted is what each accumulator adds for SlotAccumulator.
type slotted interface {
	accumulator
	reset(s int32)
	merge(d, s int32)
	gather(mem memory.Allocator, slots []int32) arrow.Array
}

type slotAcc struct{ a slotted }

func (s slotAcc) Update(col arrow.Array, slots []int32, n int) { s.a.update(col, slots, n) }
func (s slotAcc) Reset(slot int32)                             { s.a.reset(slot) }
func (s slotAcc) Merge(dst, src int32)                         { s.a.merge(dst, src) }
func (s slotAcc) Gather(mem memory.Allocator, slots []int32) arrow.Array {
	return s.a.gather(mem, slots)
}
func (s slotAcc) Bytes() int64 { return s.a.bytes() }

// NewSlotAccumulator returns op's slot accumulator over a column of type
// in (which ResultType accepted; nil for a count of rows).
func NewSlotAccumulator(op string, in arrow.DataType) SlotAccumulator {
	switch op {
	case opMedian:
		return slotAcc{&medianSlots{}}
	case opCountDistinct:
		return slotAcc{&distinctSlots{}}
	}
	return slotAcc{newAccumulator(op, in).(slotted)}
}

func maxSlot(slots ...int32) int {
	m := int32(0)
	for _, s := range slots {
		m = max(m, s)
	}
	return int(m) + 1
}

// ---- count ----

func (c *countAcc) reset(s int32) { c.n = grow(c.n, int(s)+1); c.n[s] = 0 }
func (c *countAcc) merge(d, s int32) {
	c.n = grow(c.n, maxSlot(d, s))
	c.n[d] += c.n[s]
}
func (c *countAcc) gather(mem memory.Allocator, slots []int32) arrow.Array {
	c.n = grow(c.n, maxSlot(slots...))
	out := make([]int64, len(slots))
	for i, s := range slots {
		out[i] = c.n[s]
	}
	return int64Array(mem, out, nil)
}

// ---- sum ----

func (a *sumIntAcc) ensure(n int) {
	a.sum, a.has, a.ovf = grow(a.sum, n), grow(a.has, n), grow(a.ovf, n)
}
func (a *sumIntAcc) reset(s int32) {
	a.ensure(int(s) + 1)
	a.sum[s], a.has[s], a.ovf[s] = 0, false, false
}
func (a *sumIntAcc) merge(d, s int32) {
	a.ensure(maxSlot(d, s))
	x, y := a.sum[d], a.sum[s]
	r := x + y
	a.ovf[d] = a.ovf[d] || a.ovf[s] || (x^r)&(y^r) < 0
	a.sum[d] = r
	a.has[d] = a.has[d] || a.has[s]
}
func (a *sumIntAcc) gather(mem memory.Allocator, slots []int32) arrow.Array {
	a.ensure(maxSlot(slots...))
	out := make([]int64, len(slots))
	valid := make([]bool, len(slots))
	for i, s := range slots {
		out[i], valid[i] = a.sum[s], a.has[s] && !a.ovf[s]
	}
	return int64Array(mem, out, valid)
}

func (a *sumFloatAcc) reset(s int32) {
	a.sum, a.has = grow(a.sum, int(s)+1), grow(a.has, int(s)+1)
	a.sum[s], a.has[s] = 0, false
}
func (a *sumFloatAcc) merge(d, s int32) {
	n := maxSlot(d, s)
	a.sum, a.has = grow(a.sum, n), grow(a.has, n)
	a.sum[d] += a.sum[s]
	a.has[d] = a.has[d] || a.has[s]
}
func (a *sumFloatAcc) gather(mem memory.Allocator, slots []int32) arrow.Array {
	n := maxSlot(slots...)
	a.sum, a.has = grow(a.sum, n), grow(a.has, n)
	out := make([]float64, len(slots))
	valid := make([]bool, len(slots))
	for i, s := range slots {
		out[i], valid[i] = a.sum[s], a.has[s]
	}
	return float64Array(mem, out, valid)
}

// ---- avg ----

func (a *avgAcc) reset(s int32) {
	a.sum, a.n = grow(a.sum, int(s)+1), grow(a.n, int(s)+1)
	a.sum[s], a.n[s] = 0, 0
}
func (a *avgAcc) merge(d, s int32) {
	n := maxSlot(d, s)
	a.sum, a.n = grow(a.sum, n), grow(a.n, n)
	a.sum[d] += a.sum[s]
	a.n[d] += a.n[s]
}
func (a *avgAcc) gather(mem memory.Allocator, slots []int32) arrow.Array {
	n := maxSlot(slots...)
	a.sum, a.n = grow(a.sum, n), grow(a.n, n)
	out := make([]float64, len(slots))
	valid := make([]bool, len(slots))
	for i, s := range slots {
		if c := a.n[s]; c > 0 {
			out[i], valid[i] = a.sum[s]/float64(c), true
		}
	}
	return float64Array(mem, out, valid)
}

// ---- var / std ----

func (a *varAcc) ensure(n int) { a.n, a.mean, a.m2 = grow(a.n, n), grow(a.mean, n), grow(a.m2, n) }
func (a *varAcc) reset(s int32) {
	a.ensure(int(s) + 1)
	a.n[s], a.mean[s], a.m2[s] = 0, 0, 0
}

// merge combines two Welford states (Chan et al.).
func (a *varAcc) merge(d, s int32) {
	a.ensure(maxSlot(d, s))
	nb := a.n[s]
	if nb == 0 {
		return
	}
	na := a.n[d]
	n := na + nb
	delta := a.mean[s] - a.mean[d]
	a.mean[d] += delta * float64(nb) / float64(n)
	a.m2[d] += a.m2[s] + delta*delta*float64(na)*float64(nb)/float64(n)
	a.n[d] = n
}
func (a *varAcc) gather(mem memory.Allocator, slots []int32) arrow.Array {
	a.ensure(maxSlot(slots...))
	out := make([]float64, len(slots))
	valid := make([]bool, len(slots))
	for i, s := range slots {
		if c := a.n[s]; c >= 2 {
			v := a.m2[s] / float64(c-1)
			if a.std {
				v = math.Sqrt(v)
			}
			out[i], valid[i] = v, true
		}
	}
	return float64Array(mem, out, valid)
}

// ---- min / max / first / last ----

func (a *fixedSelT[T]) reset(s int32) {
	a.vals, a.has = grow(a.vals, int(s)+1), grow(a.has, int(s)+1)
	a.has[s] = false
}
func (a *fixedSelT[T]) merge(d, s int32) {
	n := maxSlot(d, s)
	a.vals, a.has = grow(a.vals, n), grow(a.has, n)
	if !a.has[s] {
		return
	}
	take := !a.has[d]
	switch a.mode {
	case selMin:
		take = take || less(a.vals[s], a.vals[d])
	case selMax:
		take = take || less(a.vals[d], a.vals[s])
	case selLast:
		take = true
	}
	if take {
		a.vals[d], a.has[d] = a.vals[s], true
	}
}
func (a *fixedSelT[T]) gather(mem memory.Allocator, slots []int32) arrow.Array {
	n := maxSlot(slots...)
	a.vals, a.has = grow(a.vals, n), grow(a.has, n)
	vals := make([]T, len(slots))
	has := make([]bool, len(slots))
	for i, s := range slots {
		vals[i], has[i] = a.vals[s], a.has[s]
	}
	if a.typ.ID() == arrow.BOOL {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Reserve(len(vals))
		for i, x := range vals {
			if has[i] {
				b.UnsafeAppend(x == 1)
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray()
	}
	return fixedArray(mem, a.typ, vals, has)
}

func (a *bytesSel) reset(s int32) {
	a.vals, a.has = grow(a.vals, int(s)+1), grow(a.has, int(s)+1)
	a.has[s] = false
	// Release a large buffer rather than keep it for the next window.
	if cap(a.vals[s]) > 256 {
		a.size -= int64(cap(a.vals[s]))
		a.vals[s] = nil
	}
}
func (a *bytesSel) merge(d, s int32) {
	n := maxSlot(d, s)
	a.vals, a.has = grow(a.vals, n), grow(a.has, n)
	if !a.has[s] {
		return
	}
	take := !a.has[d]
	switch a.mode {
	case selMin:
		take = take || string(a.vals[s]) < string(a.vals[d])
	case selMax:
		take = take || string(a.vals[s]) > string(a.vals[d])
	case selLast:
		take = true
	}
	if take {
		old := cap(a.vals[d])
		a.vals[d] = append(a.vals[d][:0], a.vals[s]...)
		a.size += int64(cap(a.vals[d]) - old)
		a.has[d] = true
	}
}
func (a *bytesSel) gather(mem memory.Allocator, slots []int32) arrow.Array {
	n := maxSlot(slots...)
	a.vals, a.has = grow(a.vals, n), grow(a.has, n)
	b := array.NewBuilder(mem, a.typ)
	defer b.Release()
	var bb *array.BinaryBuilder
	switch x := b.(type) {
	case *array.StringBuilder:
		bb = x.BinaryBuilder
	case *array.LargeStringBuilder:
		bb = x.BinaryBuilder
	case *array.BinaryBuilder:
		bb = x
	}
	bb.Reserve(len(slots))
	for _, s := range slots {
		if a.has[s] {
			bb.Append(a.vals[s])
		} else {
			bb.AppendNull()
		}
	}
	return b.NewArray()
}

// ---- median (per-slot value lists) ----

type medianSlots struct {
	conv []float64
	vals [][]float64
	size int64
}

func (m *medianSlots) update(col arrow.Array, ids []int32, ng int) {
	m.vals = grow(m.vals, ng)
	vals, v := toFloat64(col, &m.conv), validityOf(col)
	for i, g := range ids {
		if v.nulls && !v.ok(i) {
			continue
		}
		old := cap(m.vals[g])
		m.vals[g] = append(m.vals[g], vals[i])
		m.size += int64(cap(m.vals[g])-old) * 8
	}
}

func (m *medianSlots) result(mem memory.Allocator, lo, hi int) arrow.Array {
	slots := make([]int32, hi-lo)
	for i := range slots {
		slots[i] = int32(lo + i)
	}
	return m.gather(mem, slots)
}

func (m *medianSlots) reset(s int32) {
	m.vals = grow(m.vals, int(s)+1)
	m.size -= int64(cap(m.vals[s])) * 8
	m.vals[s] = nil
}

func (m *medianSlots) merge(d, s int32) {
	m.vals = grow(m.vals, maxSlot(d, s))
	old := cap(m.vals[d])
	m.vals[d] = append(m.vals[d], m.vals[s]...)
	m.size += int64(cap(m.vals[d])-old) * 8
}

func (m *medianSlots) gather(mem memory.Allocator, slots []int32) arrow.Array {
	m.vals = grow(m.vals, maxSlot(slots...))
	out := make([]float64, len(slots))
	valid := make([]bool, len(slots))
	for i, s := range slots {
		part := m.vals[s]
		if len(part) == 0 {
			continue
		}
		slices.SortFunc(part, cmpFloat) // in place: order does not matter
		k := len(part) / 2
		if len(part)%2 == 1 {
			out[i] = part[k]
		} else {
			out[i] = part[k-1] + (part[k]-part[k-1])/2
		}
		valid[i] = true
	}
	return float64Array(mem, out, valid)
}

func (m *medianSlots) bytes() int64 { return int64(cap(m.vals))*24 + m.size + int64(cap(m.conv))*8 }

// ---- count_distinct (per-slot sets) ----

// distinctSlots keeps one set of distinct values per slot: fixed-width
// values normalized to a uint64 (NaN equals NaN, -0.0 equals 0.0),
// byte strings as Go strings.
type distinctSlots struct {
	fixed []map[uint64]struct{}
	strs  []map[string]struct{}
	size  int64
}

func (c *distinctSlots) ensure(n int) {
	c.fixed, c.strs = grow(c.fixed, n), grow(c.strs, n)
}

func (c *distinctSlots) addFixed(g int32, k uint64) {
	m := c.fixed[g]
	if m == nil {
		m = map[uint64]struct{}{}
		c.fixed[g] = m
	}
	if _, ok := m[k]; !ok {
		m[k] = struct{}{}
		c.size += 16
	}
}

func (c *distinctSlots) addBytes(g int32, b []byte) {
	m := c.strs[g]
	if m == nil {
		m = map[string]struct{}{}
		c.strs[g] = m
	}
	if _, ok := m[string(b)]; !ok {
		m[string(b)] = struct{}{}
		c.size += int64(len(b)) + 24
	}
}

func normFloat(f float64) uint64 {
	if f != f {
		return 0x7ff8000000000001
	}
	if f == 0 {
		return 0
	}
	return math.Float64bits(f)
}

func (c *distinctSlots) update(col arrow.Array, ids []int32, ng int) {
	c.ensure(ng)
	values, index := col, func(i int) int { return i }
	if d, ok := col.(*array.Dictionary); ok {
		values = d.Dictionary()
		index = d.GetValueIndex
	}
	for i, g := range ids {
		if col.IsNull(i) {
			continue
		}
		j := index(i)
		if values.IsNull(j) {
			continue
		}
		switch a := values.(type) {
		case *array.String:
			c.addBytes(g, []byte(a.Value(j)))
		case *array.LargeString:
			c.addBytes(g, []byte(a.Value(j)))
		case *array.Binary:
			c.addBytes(g, a.Value(j))
		case *array.LargeBinary:
			c.addBytes(g, a.Value(j))
		case *array.Boolean:
			k := uint64(0)
			if a.Value(j) {
				k = 1
			}
			c.addFixed(g, k)
		case *array.Float32:
			c.addFixed(g, normFloat(float64(a.Value(j))))
		case *array.Float64:
			c.addFixed(g, normFloat(a.Value(j)))
		default:
			c.addFixed(g, fixedBits(values, j))
		}
	}
}

// fixedBits reads value j of a fixed-width integer or temporal column as
// a uint64 (sign-extended for signed types).
func fixedBits(a arrow.Array, j int) uint64 {
	d := a.Data()
	switch a.DataType().ID() {
	case arrow.INT8:
		return uint64(arrow.GetValues[int8](d, 1)[j])
	case arrow.INT16:
		return uint64(arrow.GetValues[int16](d, 1)[j])
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return uint64(arrow.GetValues[int32](d, 1)[j])
	case arrow.UINT8:
		return uint64(arrow.GetValues[uint8](d, 1)[j])
	case arrow.UINT16:
		return uint64(arrow.GetValues[uint16](d, 1)[j])
	case arrow.UINT32:
		return uint64(arrow.GetValues[uint32](d, 1)[j])
	case arrow.UINT64:
		return arrow.GetValues[uint64](d, 1)[j]
	}
	return uint64(arrow.GetValues[int64](d, 1)[j])
}

func (c *distinctSlots) result(mem memory.Allocator, lo, hi int) arrow.Array {
	slots := make([]int32, hi-lo)
	for i := range slots {
		slots[i] = int32(lo + i)
	}
	return c.gather(mem, slots)
}

func (c *distinctSlots) reset(s int32) {
	c.ensure(int(s) + 1)
	c.size -= int64(len(c.fixed[s]))*16 + int64(len(c.strs[s]))*24
	c.fixed[s], c.strs[s] = nil, nil
}

func (c *distinctSlots) merge(d, s int32) {
	c.ensure(maxSlot(d, s))
	for k := range c.fixed[s] {
		c.addFixed(d, k)
	}
	for k := range c.strs[s] {
		c.addBytes(d, []byte(k))
	}
}

func (c *distinctSlots) gather(mem memory.Allocator, slots []int32) arrow.Array {
	c.ensure(maxSlot(slots...))
	out := make([]int64, len(slots))
	for i, s := range slots {
		out[i] = int64(len(c.fixed[s]) + len(c.strs[s]))
	}
	return int64Array(mem, out, nil)
}

func (c *distinctSlots) bytes() int64 {
	return int64(cap(c.fixed)+cap(c.strs))*8 + max(c.size, 0)
}
