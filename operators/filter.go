package operators

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

const filterName = "filter.apply"

// cmpOp is a comparison operator of filter.apply's original form.
type cmpOp uint8

const (
	opEq cmpOp = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opIn
)

// filterOperators maps every accepted spelling to its operator.
var filterOperators = map[string]cmpOp{
	"==": opEq, "=": opEq, "!=": opNe, "<>": opNe,
	"<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
	"contains": opContains, "in": opIn,
}

var cmpOpText = [...]string{opEq: "==", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=", opContains: "contains", opIn: "in"}

func (o cmpOp) String() string { return cmpOpText[o] }

// selector writes one bit per row of b into out (1 = keep the row). Rows
// whose compared value is null must get 0. out has room for b.NumRows()
// bits; bits past the last row are ignored.
type selector func(b arrow.RecordBatch, out []byte)

// predicateBinder binds a filter's condition to a schema. The original form
// (column/operator/value) is one binder; the expression language provides
// another.
type predicateBinder func(schema *arrow.Schema) (selector, error)

// filterOp is filter.apply's Transformer. It is not safe for concurrent
// use (one stage, one goroutine).
type filterOp struct {
	bind   predicateBinder
	schema *arrow.Schema // schema sel was bound to
	sel    selector
	idx    []int32 // row index scratch, reused across batches
}

func newFilter(cfg flow.Config, env flow.BuildEnv) (any, error) {
	if cfg.Has("expr") {
		return nil, fmt.Errorf("%s: expr: %w", filterName, ErrNeedsExpressionLanguage)
	}
	op, ok := filterOperators[cfg.Str("operator")]
	if !ok {
		return nil, fmt.Errorf("%s: operator %q: %w", filterName, cfg.Str("operator"), ErrTypeMismatch)
	}
	c := comparison{column: cfg.Str("column"), op: op, value: cfg["value"]}
	return &filterOp{bind: c.bind}, nil
}

// Transform keeps the rows of in where the condition holds. It borrows in:
// when every row passes, it Retains and returns in; when none does, it
// returns nil; otherwise it returns a new batch allocated from st.Alloc.
func (f *filterOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if f.schema == nil || (f.schema != in.Schema() && !f.schema.Equal(in.Schema())) {
		sel, err := f.bind(in.Schema())
		if err != nil {
			return nil, err
		}
		f.schema, f.sel = in.Schema(), sel
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	buf := memory.NewResizableBuffer(st.Alloc)
	defer buf.Release()
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	f.sel(in, bits)
	switch bitutil.CountSetBits(bits, 0, n) {
	case n:
		in.Retain()
		return in, nil
	case 0:
		return nil, nil
	}
	out, err := f.take(ctx, st.Alloc, in, bits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filterName, err)
	}
	return out, nil
}

// take returns the rows of in whose bit is set. Fixed-width columns are
// gathered by hand (one pass per column over the selected row indices);
// other types go through arrow's compute.TakeArray.
func (f *filterOp) take(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch, bits []byte) (arrow.RecordBatch, error) {
	n := int(in.NumRows())
	if cap(f.idx) < n+8 {
		f.idx = make([]int32, n+8)
	}
	// Compaction eight rows at a time: write the positions of a byte's set
	// bits (always eight slots, hence the slack), advance by its popcount.
	all, k := f.idx[:n+8], 0
	for bi, b := range bits[:(n+7)/8] {
		if bi == n/8 { // the last partial byte: drop bits past n
			b &= byte(1<<(n%8)) - 1
		}
		pos, base := &bitPositions[b], int32(bi*8)
		dst := all[k : k+8 : k+8]
		for j := range dst {
			dst[j] = base + int32(pos[j])
		}
		k += int(bitCounts[b])
	}
	idx := all[:k]
	var idxArr arrow.Array // built on first use
	defer func() {
		if idxArr != nil {
			idxArr.Release()
		}
	}()
	cols := make([]arrow.Array, in.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, col := range in.Columns() {
		if c := gatherFixed(mem, col, idx); c != nil {
			cols[i] = c
			continue
		}
		if idxArr == nil {
			ib := array.NewInt32Builder(mem)
			ib.AppendValues(idx, nil)
			idxArr = ib.NewArray()
			ib.Release()
		}
		c, err := compute.TakeArray(compute.WithAllocator(ctx, mem), col, idxArr)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	return array.NewRecordBatch(in.Schema(), cols, int64(len(idx))), nil
}

// gatherFixed returns the rows idx of a fixed-width primitive column
// (integers, floats, dates, times, timestamps, durations) as a new array,
// or nil for any other type.
func gatherFixed(mem memory.Allocator, col arrow.Array, idx []int32) arrow.Array {
	dt := col.DataType()
	switch {
	case arrow.IsInteger(dt.ID()), arrow.IsFloating(dt.ID()):
	default:
		switch dt.ID() {
		case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		default:
			return nil
		}
	}
	width := dt.(arrow.FixedWidthDataType).BitWidth() / 8
	data := col.Data()
	values := memory.NewResizableBuffer(mem)
	defer values.Release()
	values.Resize(len(idx) * width)
	switch width {
	case 1:
		gather(arrow.GetValues[uint8](data, 1), idx, arrow.GetData[uint8](values.Bytes()))
	case 2:
		gather(arrow.GetValues[uint16](data, 1), idx, arrow.GetData[uint16](values.Bytes()))
	case 4:
		gather(arrow.GetValues[uint32](data, 1), idx, arrow.GetData[uint32](values.Bytes()))
	case 8:
		gather(arrow.GetValues[uint64](data, 1), idx, arrow.GetData[uint64](values.Bytes()))
	default:
		return nil
	}
	var valid *memory.Buffer
	nulls := 0
	if col.NullN() > 0 {
		valid = memory.NewResizableBuffer(mem)
		defer valid.Release()
		valid.Resize(int(bitutil.BytesForBits(int64(len(idx)))))
		vb, src, off := valid.Bytes(), col.NullBitmapBytes(), data.Offset()
		for i := range vb {
			vb[i] = 0
		}
		for k, r := range idx {
			if bitutil.BitIsSet(src, off+int(r)) {
				bitutil.SetBit(vb, k)
			} else {
				nulls++
			}
		}
	}
	out := array.NewData(dt, len(idx), []*memory.Buffer{valid, values}, nil, nulls, 0)
	defer out.Release()
	return array.MakeFromData(out)
}

// bitPositions[b] lists the positions of b's set bits, in order (unused
// slots are 0); bitCounts[b] is their number.
var bitPositions, bitCounts = func() (p [256][8]uint8, c [256]uint8) {
	for b := range 256 {
		for j := range 8 {
			if b&(1<<j) != 0 {
				p[b][c[b]] = uint8(j)
				c[b]++
			}
		}
	}
	return p, c
}()

func gather[T uint8 | uint16 | uint32 | uint64](src []T, idx []int32, dst []T) {
	dst = dst[:len(idx)]
	for k, r := range idx {
		dst[k] = src[r]
	}
}

// comparison is the original form: column operator value.
type comparison struct {
	column string
	op     cmpOp
	value  any
}

// kernel writes the comparison's bits for one column array, ignoring nulls
// (the caller clears them).
type kernel func(arr arrow.Array, out []byte)

func (c comparison) bind(schema *arrow.Schema) (selector, error) {
	idx, err := columnIndex(filterName, schema, c.column)
	if err != nil {
		return nil, err
	}
	k, err := c.kernelFor(schema.Field(idx).Type)
	if err != nil {
		return nil, fmt.Errorf("%s: column %q (%s): %w", filterName, c.column, schema.Field(idx).Type, err)
	}
	return func(b arrow.RecordBatch, out []byte) {
		arr := b.Column(idx)
		k(arr, out)
		if arr.NullN() > 0 {
			andValidity(out, arr.NullBitmapBytes(), arr.Data().Offset(), arr.Len())
		}
	}, nil
}

func (c comparison) kernelFor(dt arrow.DataType) (kernel, error) {
	switch dt.ID() {
	case arrow.INT8:
		return intKernel[int8](c, math.MinInt8, math.MaxInt8)
	case arrow.INT16:
		return intKernel[int16](c, math.MinInt16, math.MaxInt16)
	case arrow.INT32:
		return intKernel[int32](c, math.MinInt32, math.MaxInt32)
	case arrow.INT64:
		return intKernel[int64](c, math.MinInt64, math.MaxInt64)
	case arrow.UINT8:
		return intKernel[uint8](c, 0, math.MaxUint8)
	case arrow.UINT16:
		return intKernel[uint16](c, 0, math.MaxUint16)
	case arrow.UINT32:
		return intKernel[uint32](c, 0, math.MaxUint32)
	case arrow.UINT64:
		return intKernel[uint64](c, 0, math.MaxInt64)
	case arrow.FLOAT32:
		return floatKernel[float32](c)
	case arrow.FLOAT64:
		return floatKernel[float64](c)
	case arrow.STRING:
		return stringKernel(c, func(arr arrow.Array) ([]int32, []byte) {
			a := arr.(*array.String)
			return a.ValueOffsets(), a.ValueBytes()
		})
	case arrow.LARGE_STRING:
		return stringKernel(c, func(arr arrow.Array) ([]int64, []byte) {
			a := arr.(*array.LargeString)
			return a.ValueOffsets(), a.ValueBytes()
		})
	case arrow.BOOL:
		return boolKernel(c)
	case arrow.TIMESTAMP:
		unit := dt.(*arrow.TimestampType).Unit
		return temporalKernel[arrow.Timestamp](c, math.MinInt64, math.MaxInt64, func(t time.Time) intConst { return timeIn(t, unit) })
	case arrow.DATE32:
		return temporalKernel[arrow.Date32](c, math.MinInt32, math.MaxInt32, func(t time.Time) intConst { return daysOf(t) })
	case arrow.DATE64:
		return temporalKernel[arrow.Date64](c, math.MinInt64, math.MaxInt64, func(t time.Time) intConst { return timeIn(t, arrow.Millisecond) })
	}
	return nil, fmt.Errorf("%w for filter.apply's original form", ErrUnsupportedType)
}

// constKernel selects every row (all) or none.
func constKernel(all bool) kernel {
	var fill byte
	if all {
		fill = 0xff
	}
	return func(arr arrow.Array, out []byte) {
		for i := range out {
			out[i] = fill
		}
	}
}

// intConst is an exact constant on an integer scale: the value v, or when
// frac is set, a value strictly between v and v+1. over is +1 (or -1) when
// the constant lies above (below) the int64 range.
type intConst struct {
	v    int64
	frac bool
	over int8
}

// intOfNumber converts a TOML number to an intConst; ok is false for NaN.
func intOfNumber(v any) (k intConst, ok bool, err error) {
	switch x := v.(type) {
	case int64:
		return intConst{v: x}, true, nil
	case float64:
		if math.IsNaN(x) {
			return intConst{}, false, nil
		}
		fl := math.Floor(x)
		switch {
		case fl >= 1<<63:
			return intConst{over: 1}, true, nil
		case fl < -(1 << 63):
			return intConst{over: -1}, true, nil
		}
		return intConst{v: int64(fl), frac: fl != x}, true, nil
	}
	return intConst{}, false, fmt.Errorf("%w: value %s is not a number", ErrTypeMismatch, describeValue(v))
}

// rewriteInt turns "col op k", for a column whose values lie in [lo, hi],
// into an exact comparison "col op2 c" with c in [lo, hi], or into a
// constant outcome (konst: 1 = every non-null row, -1 = none, 0 = compare).
func rewriteInt(op cmpOp, k intConst, lo, hi int64) (op2 cmpOp, c int64, konst int) {
	if k.frac { // lo < k < lo+1 with k.v = floor
		switch op {
		case opEq:
			return 0, 0, -1
		case opNe:
			return 0, 0, 1
		case opGt, opGe:
			op = opGt
		case opLt, opLe:
			op = opLe
		}
	}
	above := k.over > 0 || (k.over == 0 && k.v > hi)
	below := k.over < 0 || (k.over == 0 && k.v < lo)
	switch {
	case above:
		if op == opNe || op == opLt || op == opLe {
			return 0, 0, 1
		}
		return 0, 0, -1
	case below:
		if op == opNe || op == opGt || op == opGe {
			return 0, 0, 1
		}
		return 0, 0, -1
	}
	return op, k.v, 0
}

func intKernel[T arrow.IntType | arrow.UintType](c comparison, lo, hi int64) (kernel, error) {
	return integerKernel[T](c, lo, hi, func(v any) (intConst, bool, error) { return intOfNumber(v) })
}

// temporalKernel compares a timestamp or date column; the value is an
// RFC 3339 string (or a date), a TOML date-time, or an integer in the
// column's unit.
func temporalKernel[T ~int32 | ~int64](c comparison, lo, hi int64, conv func(time.Time) intConst) (kernel, error) {
	return integerKernel[T](c, lo, hi, func(v any) (intConst, bool, error) {
		switch x := v.(type) {
		case int64:
			return intConst{v: x}, true, nil
		case time.Time:
			return conv(x), true, nil
		case string:
			t, err := parseTime(x)
			if err != nil {
				return intConst{}, false, fmt.Errorf("%w: %v", ErrTypeMismatch, err)
			}
			return conv(t), true, nil
		}
		return intConst{}, false, fmt.Errorf("%w: value %s is not a date-time (use an RFC 3339 string)", ErrTypeMismatch, describeValue(v))
	})
}

func integerKernel[T arrow.IntType | arrow.UintType](c comparison, lo, hi int64, conv func(any) (intConst, bool, error)) (kernel, error) {
	switch c.op {
	case opContains:
		return nil, fmt.Errorf("%w: contains applies to string columns", ErrTypeMismatch)
	case opIn:
		list, _ := c.value.([]any)
		var set []T
		for _, e := range list {
			k, ok, err := conv(e)
			if err != nil {
				return nil, err
			}
			if ok && !k.frac && k.over == 0 && k.v >= lo && k.v <= hi {
				set = append(set, T(k.v))
			}
		}
		return func(arr arrow.Array, out []byte) { bitsIn(arrow.GetValues[T](arr.Data(), 1), set, out) }, nil
	}
	k, ok, err := conv(c.value)
	if err != nil {
		return nil, err
	}
	if !ok { // NaN: only != holds
		return constKernel(c.op == opNe), nil
	}
	op, v, konst := rewriteInt(c.op, k, lo, hi)
	if konst != 0 {
		return constKernel(konst > 0), nil
	}
	cv := T(v)
	return func(arr arrow.Array, out []byte) { bitsCmp(arrow.GetValues[T](arr.Data(), 1), cv, op, out) }, nil
}

func floatKernel[T float32 | float64](c comparison) (kernel, error) {
	conv := func(v any) (T, error) {
		switch x := v.(type) {
		case int64:
			return T(x), nil
		case float64:
			return T(x), nil
		}
		return 0, fmt.Errorf("%w: value %s is not a number", ErrTypeMismatch, describeValue(v))
	}
	switch c.op {
	case opContains:
		return nil, fmt.Errorf("%w: contains applies to string columns", ErrTypeMismatch)
	case opIn:
		list, _ := c.value.([]any)
		set := make([]T, 0, len(list))
		for _, e := range list {
			f, err := conv(e)
			if err != nil {
				return nil, err
			}
			set = append(set, f)
		}
		return func(arr arrow.Array, out []byte) { bitsIn(arrow.GetValues[T](arr.Data(), 1), set, out) }, nil
	}
	cv, err := conv(c.value)
	if err != nil {
		return nil, err
	}
	return func(arr arrow.Array, out []byte) { bitsCmp(arrow.GetValues[T](arr.Data(), 1), cv, c.op, out) }, nil
}

func stringKernel[O int32 | int64](c comparison, get func(arrow.Array) ([]O, []byte)) (kernel, error) {
	if c.op == opIn {
		list, _ := c.value.([]any)
		set := make(map[string]struct{}, len(list))
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: list element %s is not a string", ErrTypeMismatch, describeValue(e))
			}
			set[s] = struct{}{}
		}
		return func(arr arrow.Array, out []byte) {
			offs, data := get(arr)
			eachString(offs, data, out, func(s []byte) bool { _, ok := set[string(s)]; return ok })
		}, nil
	}
	s, ok := c.value.(string)
	if !ok {
		return nil, fmt.Errorf("%w: value %s is not a string", ErrTypeMismatch, describeValue(c.value))
	}
	var pred func([]byte) bool
	switch c.op {
	case opEq:
		pred = func(b []byte) bool { return string(b) == s }
	case opNe:
		pred = func(b []byte) bool { return string(b) != s }
	case opLt:
		pred = func(b []byte) bool { return string(b) < s }
	case opLe:
		pred = func(b []byte) bool { return string(b) <= s }
	case opGt:
		pred = func(b []byte) bool { return string(b) > s }
	case opGe:
		pred = func(b []byte) bool { return string(b) >= s }
	case opContains:
		sb := []byte(s)
		pred = func(b []byte) bool { return bytes.Contains(b, sb) }
	}
	return func(arr arrow.Array, out []byte) {
		offs, data := get(arr)
		eachString(offs, data, out, pred)
	}, nil
}

// eachString sets bit i of out to pred(value i). offs are the array's
// len+1 offsets and data its value bytes starting at offs[0].
func eachString[O int32 | int64](offs []O, data []byte, out []byte, pred func([]byte) bool) {
	n := len(offs) - 1
	base := offs[0]
	for bi := 0; bi*8 < n; bi++ {
		var b byte
		for j := bi * 8; j < min(bi*8+8, n); j++ {
			b |= b2u(pred(data[offs[j]-base:offs[j+1]-base])) << (j & 7)
		}
		out[bi] = b
	}
}

func boolKernel(c comparison) (kernel, error) {
	var want []bool
	switch c.op {
	case opEq, opNe:
		b, ok := c.value.(bool)
		if !ok {
			return nil, fmt.Errorf("%w: value %s is not a bool", ErrTypeMismatch, describeValue(c.value))
		}
		want = []bool{b == (c.op == opEq)}
	case opIn:
		list, _ := c.value.([]any)
		for _, e := range list {
			b, ok := e.(bool)
			if !ok {
				return nil, fmt.Errorf("%w: list element %s is not a bool", ErrTypeMismatch, describeValue(e))
			}
			want = append(want, b)
		}
	default:
		return nil, fmt.Errorf("%w: operator %s does not apply to a bool column", ErrTypeMismatch, c.op)
	}
	hasTrue, hasFalse := false, false
	for _, b := range want {
		hasTrue, hasFalse = hasTrue || b, hasFalse || !b
	}
	switch {
	case hasTrue && hasFalse:
		return constKernel(true), nil
	case !hasTrue && !hasFalse:
		return constKernel(false), nil
	}
	return func(arr arrow.Array, out []byte) {
		data := arr.Data()
		bitutil.CopyBitmap(data.Buffers()[1].Bytes(), data.Offset(), data.Len(), out, 0)
		if hasFalse {
			for i := range out {
				out[i] = ^out[i]
			}
		}
	}, nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// bitsCmp sets bit i of out to (vals[i] op c), eight rows per output byte.
// Each operator has its own loop so that the comparison is inlined.
func bitsCmp[T cmp.Ordered](vals []T, c T, op cmpOp, out []byte) {
	n := len(vals)
	full := n / 8
	switch op {
	case opEq:
		for bi := range full {
			v := vals[bi*8 : bi*8+8 : bi*8+8]
			out[bi] = b2u(v[0] == c) | b2u(v[1] == c)<<1 | b2u(v[2] == c)<<2 | b2u(v[3] == c)<<3 |
				b2u(v[4] == c)<<4 | b2u(v[5] == c)<<5 | b2u(v[6] == c)<<6 | b2u(v[7] == c)<<7
		}
	case opNe:
		for bi := range full {
			v := vals[bi*8 : bi*8+8 : bi*8+8]
			out[bi] = b2u(v[0] != c) | b2u(v[1] != c)<<1 | b2u(v[2] != c)<<2 | b2u(v[3] != c)<<3 |
				b2u(v[4] != c)<<4 | b2u(v[5] != c)<<5 | b2u(v[6] != c)<<6 | b2u(v[7] != c)<<7
		}
	case opLt:
		for bi := range full {
			v := vals[bi*8 : bi*8+8 : bi*8+8]
			out[bi] = b2u(v[0] < c) | b2u(v[1] < c)<<1 | b2u(v[2] < c)<<2 | b2u(v[3] < c)<<3 |
				b2u(v[4] < c)<<4 | b2u(v[5] < c)<<5 | b2u(v[6] < c)<<6 | b2u(v[7] < c)<<7
		}
	case opLe:
		for bi := range full {
			v := vals[bi*8 : bi*8+8 : bi*8+8]
			out[bi] = b2u(v[0] <= c) | b2u(v[1] <= c)<<1 | b2u(v[2] <= c)<<2 | b2u(v[3] <= c)<<3 |
				b2u(v[4] <= c)<<4 | b2u(v[5] <= c)<<5 | b2u(v[6] <= c)<<6 | b2u(v[7] <= c)<<7
		}
	case opGt:
		for bi := range full {
			v := vals[bi*8 : bi*8+8 : bi*8+8]
			out[bi] = b2u(v[0] > c) | b2u(v[1] > c)<<1 | b2u(v[2] > c)<<2 | b2u(v[3] > c)<<3 |
				b2u(v[4] > c)<<4 | b2u(v[5] > c)<<5 | b2u(v[6] > c)<<6 | b2u(v[7] > c)<<7
		}
	case opGe:
		for bi := range full {
			v := vals[bi*8 : bi*8+8 : bi*8+8]
			out[bi] = b2u(v[0] >= c) | b2u(v[1] >= c)<<1 | b2u(v[2] >= c)<<2 | b2u(v[3] >= c)<<3 |
				b2u(v[4] >= c)<<4 | b2u(v[5] >= c)<<5 | b2u(v[6] >= c)<<6 | b2u(v[7] >= c)<<7
		}
	}
	if rest := vals[full*8:]; len(rest) > 0 {
		var b byte
		for j, v := range rest {
			var r bool
			switch op {
			case opEq:
				r = v == c
			case opNe:
				r = v != c
			case opLt:
				r = v < c
			case opLe:
				r = v <= c
			case opGt:
				r = v > c
			case opGe:
				r = v >= c
			}
			b |= b2u(r) << j
		}
		out[full] = b
	}
}

// bitsIn sets bit i of out when vals[i] is in set.
func bitsIn[T comparable](vals []T, set []T, out []byte) {
	var m map[T]struct{}
	if len(set) > 8 {
		m = make(map[T]struct{}, len(set))
		for _, v := range set {
			m[v] = struct{}{}
		}
	}
	n := len(vals)
	for bi := 0; bi*8 < n; bi++ {
		var b byte
		for j := bi * 8; j < min(bi*8+8, n); j++ {
			var hit bool
			if m != nil {
				_, hit = m[vals[j]]
			} else {
				for _, s := range set {
					if vals[j] == s {
						hit = true
						break
					}
				}
			}
			b |= b2u(hit) << (j & 7)
		}
		out[bi] = b
	}
}

// andValidity clears the bits of out (from bit 0) whose row is null in the
// validity bitmap valid (starting at bit offset).
func andValidity(out, valid []byte, offset, n int) {
	nb := int(bitutil.BytesForBits(int64(n)))
	if offset%8 == 0 {
		v := valid[offset/8:]
		for i := range nb {
			out[i] &= v[i]
		}
		return
	}
	tmp := make([]byte, nb)
	bitutil.CopyBitmap(valid, offset, n, tmp, 0)
	for i := range nb {
		out[i] &= tmp[i]
	}
}

// timeIn converts t to an intConst in the given unit since the epoch.
func timeIn(t time.Time, unit arrow.TimeUnit) intConst {
	sec, ns := t.Unix(), int64(t.Nanosecond())
	switch unit {
	case arrow.Second:
		return intConst{v: sec, frac: ns != 0}
	case arrow.Millisecond:
		return intConst{v: sec*1e3 + ns/1e6, frac: ns%1e6 != 0}
	case arrow.Microsecond:
		return intConst{v: sec*1e6 + ns/1e3, frac: ns%1e3 != 0}
	}
	return intConst{v: sec*1e9 + ns}
}

// daysOf converts t to days since the epoch (UTC).
func daysOf(t time.Time) intConst {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return intConst{v: d, frac: sec-d*86400 != 0 || t.Nanosecond() != 0}
}

// timeLayouts are the accepted spellings of a date-time value.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// parseTime parses an RFC 3339 date-time (or a date, or either without a
// zone, read as UTC).
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("value %q is not an RFC 3339 date-time", s)
}

// describeValue renders a config value with its TOML type for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q (a string)", x)
	case int64, float64:
		return fmt.Sprintf("%v (a number)", x)
	case bool:
		return fmt.Sprintf("%v (a bool)", x)
	case []any:
		return fmt.Sprintf("%v (a list)", x)
	case time.Time:
		return fmt.Sprintf("%s (a date-time)", x.Format(time.RFC3339Nano))
	case nil:
		return "(missing)"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// checkFilter is filter.apply's cross-parameter validation: exactly one of
// expr or column/operator/value, and a value that suits the operator.
func checkFilter(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	add := func(key, format string, args ...any) {
		errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	orig := cfg.Has("column") || cfg.Has("operator") || cfg.Has("value")
	if cfg.Has("expr") {
		if orig {
			add("expr", "give either expr or column/operator/value, not both")
		}
		return errs
	}
	for _, k := range []string{"column", "operator", "value"} {
		if !cfg.Has(k) {
			add(k, "required parameter of filter.apply is missing (give column, operator and value, or expr)")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	op := filterOperators[cfg.Str("operator")]
	_, isList := cfg["value"].([]any)
	switch {
	case op == opIn && !isList:
		add("value", "operator \"in\" needs a list, got %s", describeValue(cfg["value"]))
	case op != opIn && isList:
		add("value", "a list value needs operator \"in\", got %q", cfg.Str("operator"))
	case op == opContains:
		if _, ok := cfg["value"].(string); !ok {
			add("value", "operator \"contains\" needs a string, got %s", describeValue(cfg["value"]))
		}
	}
	if _, isMap := cfg["value"].(map[string]any); isMap {
		add("value", "must be a string, number, bool, date-time or list, got a table")
	}
	return errs
}
