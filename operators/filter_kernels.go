package operators

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

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
	return func(_ memory.Allocator, b arrow.RecordBatch, out []byte) error {
		arr := b.Column(idx)
		k(arr, out)
		if arr.NullN() > 0 {
			andValidity(out, arr.NullBitmapBytes(), arr.Data().Offset(), arr.Len())
		}
		return nil
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
