package convert

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
)

// CastFunc converts a column to one target type. Cells that cannot be
// converted are null in the result and their row indexes are listed, in
// ascending order, in fails. Null cells stay null and never fail. src is
// borrowed; the result is owned by the caller.
type CastFunc func(mem memory.Allocator, src arrow.Array) (out arrow.Array, fails []int32)

// CastKernel returns the vectorized conversion from type from to type to,
// or an error wrapping batch.ErrUnsupportedType when there is none. The
// targets are the types batch.ParseType returns; the rules are those of
// cast.apply (see its Description). Equal types give a kernel that returns
// src itself, retained.
func CastKernel(from, to arrow.DataType) (CastFunc, error) {
	if arrow.TypeEqual(from, to) {
		return func(_ memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
			src.Retain()
			return src, nil
		}, nil
	}
	fid, tid := from.ID(), to.ID()
	if fid == arrow.NULL {
		return func(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
			return array.MakeArrayOfNull(mem, to, src.Len()), nil
		}, nil
	}
	unsupported := fmt.Errorf("%w: cannot cast %s to %s", batch.ErrUnsupportedType, batch.TypeName(from), batch.TypeName(to))
	switch {
	case tid == arrow.STRING:
		return toString, nil
	case arrow.IsInteger(tid):
		if !isStringID(fid) && !isNumericID(fid) && fid != arrow.BOOL {
			return nil, unsupported
		}
		return intKernel(to), nil
	case tid == arrow.FLOAT64 || tid == arrow.FLOAT32:
		if !isStringID(fid) && !isNumericID(fid) && fid != arrow.BOOL {
			return nil, unsupported
		}
		if tid == arrow.FLOAT64 {
			return func(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
				return toFloat[float64](mem, src, to, math.MaxFloat64)
			}, nil
		}
		return func(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
			return toFloat[float32](mem, src, to, math.MaxFloat32)
		}, nil
	case tid == arrow.BOOL:
		if !isStringID(fid) && !isNumericID(fid) {
			return nil, unsupported
		}
		return toBool, nil
	case tid == arrow.TIMESTAMP:
		tt := to.(*arrow.TimestampType)
		if tt.Unit != arrow.Microsecond {
			return nil, unsupported
		}
		if !isStringID(fid) && fid != arrow.TIMESTAMP && fid != arrow.DATE32 && fid != arrow.DATE64 {
			return nil, unsupported
		}
		return func(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) { return toTimestamp(mem, src, to) }, nil
	case tid == arrow.DATE32:
		if !isStringID(fid) && fid != arrow.TIMESTAMP && fid != arrow.DATE64 {
			return nil, unsupported
		}
		return toDate32, nil
	}
	return nil, unsupported
}

func isStringID(id arrow.Type) bool { return id == arrow.STRING || id == arrow.LARGE_STRING }

func isNumericID(id arrow.Type) bool {
	return arrow.IsInteger(id) || id == arrow.FLOAT32 || id == arrow.FLOAT64
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// ---- to string ----

func toString(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
	var f func(dst []byte, i int) []byte
	switch a := src.(type) {
	case *array.LargeString:
		v, _ := newStrView(a)
		f = func(d []byte, i int) []byte { return append(d, v.at(i)...) }
	case *array.Int64:
		vals := a.Int64Values()
		f = func(d []byte, i int) []byte { return strconv.AppendInt(d, vals[i], 10) }
	case *array.Int32:
		vals := a.Int32Values()
		f = func(d []byte, i int) []byte { return strconv.AppendInt(d, int64(vals[i]), 10) }
	case *array.Uint64:
		vals := a.Uint64Values()
		f = func(d []byte, i int) []byte { return strconv.AppendUint(d, vals[i], 10) }
	case *array.Float64:
		vals := a.Float64Values()
		f = func(d []byte, i int) []byte { return appendFloatText(d, vals[i], 64) }
	case *array.Float32:
		vals := a.Float32Values()
		f = func(d []byte, i int) []byte { return appendFloatText(d, float64(vals[i]), 32) }
	case *array.Boolean:
		f = func(d []byte, i int) []byte { return strconv.AppendBool(d, a.Value(i)) }
	case *array.Timestamp:
		if a.DataType().(*arrow.TimestampType).Unit == arrow.Microsecond {
			vals := a.TimestampValues()
			f = func(d []byte, i int) []byte { return batch.AppendTimestamp(d, int64(vals[i])) }
		}
	case *array.Date32:
		vals := a.Date32Values()
		f = func(d []byte, i int) []byte { return batch.AppendDate(d, int32(vals[i])) }
	}
	if f == nil {
		// Other integer widths and types: their display text.
		f = func(d []byte, i int) []byte { return append(d, batch.FormatValue(src, i)...) }
	}
	n := src.Len()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	sb.Reserve(n)
	sb.ReserveData(n * 8)
	var scratch []byte
	hasNulls := src.NullN() > 0
	for i := 0; i < n; i++ {
		if hasNulls && src.IsNull(i) {
			sb.AppendNull()
			continue
		}
		scratch = f(scratch[:0], i)
		sb.BinaryBuilder.Append(scratch)
	}
	return sb.NewArray(), nil
}

// appendFloatText renders f as batch.FormatValue does: shortest
// round-tripping decimal, exponent form only below 1e-6 or from 1e21;
// NaN, +Inf, -Inf.
func appendFloatText(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-Inf"...)
	}
	a := math.Abs(f)
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, bits)
}

// ---- to integers ----

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type number interface {
	integer | ~float32 | ~float64
}

func intKernel(to arrow.DataType) CastFunc {
	switch to.ID() {
	case arrow.INT8:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[int8](m, s, to, math.MinInt8, math.MaxInt8)
		}
	case arrow.INT16:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[int16](m, s, to, math.MinInt16, math.MaxInt16)
		}
	case arrow.INT32:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[int32](m, s, to, math.MinInt32, math.MaxInt32)
		}
	case arrow.UINT8:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[uint8](m, s, to, 0, math.MaxUint8)
		}
	case arrow.UINT16:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[uint16](m, s, to, 0, math.MaxUint16)
		}
	case arrow.UINT32:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[uint32](m, s, to, 0, math.MaxUint32)
		}
	case arrow.UINT64:
		return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
			return toInt[uint64](m, s, to, 0, math.MaxUint64)
		}
	}
	return func(m memory.Allocator, s arrow.Array) (arrow.Array, []int32) {
		return toInt[int64](m, s, to, math.MinInt64, math.MaxInt64)
	}
}

// intRange is the range of an integer target type: [lo, hi] with lo as an
// int64 (0 for unsigned types) and hi as a uint64.
type intRange struct {
	lo int64
	hi uint64
}

func (r intRange) signed(v int64) bool { return v >= r.lo && (v < 0 || uint64(v) <= r.hi) }

func (r intRange) unsigned(u uint64) bool { return u <= r.hi }

func (r intRange) float(f float64) bool {
	if f != math.Trunc(f) { // also NaN and ±Inf
		return false
	}
	// 2^63 and 2^64 are exact in float64; hi+1 is a power of two for every
	// integer type.
	return f >= float64(r.lo) && f < float64(r.hi)+1
}

func toInt[D integer](mem memory.Allocator, src arrow.Array, to arrow.DataType, lo int64, hi uint64) (arrow.Array, []int32) {
	n := src.Len()
	r := intRange{lo, hi}
	out := newFixedOut[D](mem, n, src)
	var fails []int32
	fail := func(i int) {
		fails = append(fails, int32(i))
		clearBit(out.bits, i)
	}
	hasNulls := src.NullN() > 0
	switch a := src.(type) {
	case *array.String, *array.LargeString:
		v, _ := newStrView(a)
		for i := 0; i < n; i++ {
			if hasNulls && src.IsNull(i) {
				continue
			}
			b := v.at(i)
			x, ok := batch.ParseInt(b)
			if !ok {
				b = trimSpace(b)
				x, ok = batch.ParseInt(b)
				if !ok {
					if u, uok := parseUint(b); uok {
						if r.unsigned(u) {
							out.v[i] = D(u)
						} else {
							fail(i)
						}
						continue
					}
					// "12.0", "1e3": integral numbers in other notations,
					// when exact (magnitude up to 2^53).
					if f, fok := batch.ParseFloat(b); fok && math.Abs(f) <= 1<<53 && r.float(f) {
						if f < 0 {
							out.v[i] = D(int64(f))
						} else {
							out.v[i] = D(uint64(f))
						}
						continue
					}
					fail(i)
					continue
				}
			}
			if !r.signed(x) {
				fail(i)
				continue
			}
			out.v[i] = D(x)
		}
	case *array.Int8:
		signedToInt(a.Int8Values(), out, r, hasNulls, src, fail)
	case *array.Int16:
		signedToInt(a.Int16Values(), out, r, hasNulls, src, fail)
	case *array.Int32:
		signedToInt(a.Int32Values(), out, r, hasNulls, src, fail)
	case *array.Int64:
		signedToInt(a.Int64Values(), out, r, hasNulls, src, fail)
	case *array.Uint8:
		unsignedToInt(a.Uint8Values(), out, r, hasNulls, src, fail)
	case *array.Uint16:
		unsignedToInt(a.Uint16Values(), out, r, hasNulls, src, fail)
	case *array.Uint32:
		unsignedToInt(a.Uint32Values(), out, r, hasNulls, src, fail)
	case *array.Uint64:
		unsignedToInt(a.Uint64Values(), out, r, hasNulls, src, fail)
	case *array.Float32:
		floatToInt(a.Float32Values(), out, r, hasNulls, src, fail)
	case *array.Float64:
		floatToInt(a.Float64Values(), out, r, hasNulls, src, fail)
	case *array.Boolean:
		for i := 0; i < n; i++ {
			if a.Value(i) {
				out.v[i] = 1
			} else {
				out.v[i] = 0
			}
		}
	default:
		out.release()
		panic("convert: no integer kernel for " + src.DataType().String())
	}
	return out.finish(to), fails
}

// parseUint parses an unsigned decimal integer with an optional '+'.
func parseUint(b []byte) (uint64, bool) {
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		hi, lo := bits.Mul64(u, 10)
		if hi != 0 {
			return 0, false
		}
		u = lo + uint64(d)
		if u < lo {
			return 0, false
		}
	}
	return u, true
}

func signedToInt[S ~int8 | ~int16 | ~int32 | ~int64, D integer](vals []S, out *fixedOut[D], r intRange, hasNulls bool, src arrow.Array, fail func(int)) {
	for i, s := range vals {
		x := int64(s)
		if r.signed(x) {
			out.v[i] = D(x)
		} else if !hasNulls || src.IsValid(i) {
			fail(i)
		}
	}
}

func unsignedToInt[S ~uint8 | ~uint16 | ~uint32 | ~uint64, D integer](vals []S, out *fixedOut[D], r intRange, hasNulls bool, src arrow.Array, fail func(int)) {
	for i, s := range vals {
		u := uint64(s)
		if r.unsigned(u) {
			out.v[i] = D(u)
		} else if !hasNulls || src.IsValid(i) {
			fail(i)
		}
	}
}

func floatToInt[S ~float32 | ~float64, D integer](vals []S, out *fixedOut[D], r intRange, hasNulls bool, src arrow.Array, fail func(int)) {
	for i, s := range vals {
		f := float64(s)
		if r.float(f) {
			if f < 0 {
				out.v[i] = D(int64(f))
			} else {
				out.v[i] = D(uint64(f))
			}
		} else if !hasNulls || src.IsValid(i) {
			fail(i)
		}
	}
}

func clearBit(bits []byte, i int) { bits[i>>3] &^= 1 << (uint(i) & 7) }

// ---- to floats ----

func toFloat[D ~float32 | ~float64](mem memory.Allocator, src arrow.Array, to arrow.DataType, maxAbs float64) (arrow.Array, []int32) {
	n := src.Len()
	out := newFixedOut[D](mem, n, src)
	var fails []int32
	fail := func(i int) {
		fails = append(fails, int32(i))
		clearBit(out.bits, i)
	}
	hasNulls := src.NullN() > 0
	put := func(i int, f float64) {
		// A finite value beyond the target's range fails (float32 only).
		if math.Abs(f) > maxAbs && !math.IsInf(f, 0) {
			fail(i)
			return
		}
		out.v[i] = D(f)
	}
	switch a := src.(type) {
	case *array.String, *array.LargeString:
		v, _ := newStrView(a)
		for i := 0; i < n; i++ {
			if hasNulls && src.IsNull(i) {
				continue
			}
			b := v.at(i)
			f, ok := batch.ParseFloat(b)
			if !ok {
				if f, ok = batch.ParseFloat(trimSpace(b)); !ok {
					fail(i)
					continue
				}
			}
			put(i, f)
		}
	case *array.Int8:
		numToFloat(a.Int8Values(), out)
	case *array.Int16:
		numToFloat(a.Int16Values(), out)
	case *array.Int32:
		numToFloat(a.Int32Values(), out)
	case *array.Int64:
		numToFloat(a.Int64Values(), out)
	case *array.Uint8:
		numToFloat(a.Uint8Values(), out)
	case *array.Uint16:
		numToFloat(a.Uint16Values(), out)
	case *array.Uint32:
		numToFloat(a.Uint32Values(), out)
	case *array.Uint64:
		numToFloat(a.Uint64Values(), out)
	case *array.Float32:
		numToFloat(a.Float32Values(), out)
	case *array.Float64:
		vals := a.Float64Values()
		for i, f := range vals {
			if !hasNulls || src.IsValid(i) {
				put(i, f)
			}
		}
	case *array.Boolean:
		for i := 0; i < n; i++ {
			if a.Value(i) {
				out.v[i] = 1
			} else {
				out.v[i] = 0
			}
		}
	default:
		out.release()
		panic("convert: no float kernel for " + src.DataType().String())
	}
	return out.finish(to), fails
}

func numToFloat[S number, D ~float32 | ~float64](vals []S, out *fixedOut[D]) {
	for i, s := range vals {
		out.v[i] = D(s)
	}
}

// ---- to bool ----

func toBool(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
	n := src.Len()
	bb := array.NewBooleanBuilder(mem)
	defer bb.Release()
	bb.Reserve(n)
	var fails []int32
	failAt := func(i int) {
		fails = append(fails, int32(i))
		bb.UnsafeAppendBoolToBitmap(false)
	}
	switch a := src.(type) {
	case *array.String, *array.LargeString:
		v, _ := newStrView(a)
		for i := 0; i < n; i++ {
			if src.IsNull(i) {
				bb.UnsafeAppendBoolToBitmap(false)
				continue
			}
			b := v.at(i)
			x, ok := batch.ParseBool(b)
			if !ok {
				if x, ok = batch.ParseBool(trimSpace(b)); !ok {
					failAt(i)
					continue
				}
			}
			bb.UnsafeAppend(x)
		}
	default:
		for i := 0; i < n; i++ {
			if src.IsNull(i) {
				bb.UnsafeAppendBoolToBitmap(false)
				continue
			}
			var f float64
			switch a := src.(type) {
			case *array.Int8:
				f = float64(a.Value(i))
			case *array.Int16:
				f = float64(a.Value(i))
			case *array.Int32:
				f = float64(a.Value(i))
			case *array.Int64:
				f = float64(a.Value(i))
			case *array.Uint8:
				f = float64(a.Value(i))
			case *array.Uint16:
				f = float64(a.Value(i))
			case *array.Uint32:
				f = float64(a.Value(i))
			case *array.Uint64:
				f = float64(a.Value(i))
			case *array.Float32:
				f = float64(a.Value(i))
			case *array.Float64:
				f = a.Value(i)
			}
			switch f {
			case 0:
				bb.UnsafeAppend(false)
			case 1:
				bb.UnsafeAppend(true)
			default:
				failAt(i)
			}
		}
	}
	return bb.NewArray(), fails
}

// ---- to timestamp and date ----

const usPerDay = 86_400_000_000

func toTimestamp(mem memory.Allocator, src arrow.Array, to arrow.DataType) (arrow.Array, []int32) {
	n := src.Len()
	out := newFixedOut[arrow.Timestamp](mem, n, src)
	var fails []int32
	hasNulls := src.NullN() > 0
	switch a := src.(type) {
	case *array.String, *array.LargeString:
		v, _ := newStrView(a)
		var p batch.TimestampParser
		for i := 0; i < n; i++ {
			if hasNulls && src.IsNull(i) {
				continue
			}
			b := v.at(i)
			us, ok := p.Parse(b)
			if !ok {
				if us, ok = p.Parse(trimSpace(b)); !ok {
					fails = append(fails, int32(i))
					clearBit(out.bits, i)
					continue
				}
			}
			out.v[i] = arrow.Timestamp(us)
		}
	case *array.Date32:
		for i, d := range a.Date32Values() {
			out.v[i] = arrow.Timestamp(int64(d) * usPerDay)
		}
	case *array.Date64:
		for i, d := range a.Date64Values() {
			out.v[i] = arrow.Timestamp(int64(d) * 1000)
		}
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		for i, t := range a.TimestampValues() {
			x := int64(t)
			switch unit {
			case arrow.Second:
				if x > math.MaxInt64/1_000_000 || x < math.MinInt64/1_000_000 {
					if !hasNulls || src.IsValid(i) {
						fails = append(fails, int32(i))
						clearBit(out.bits, i)
					}
					continue
				}
				x *= 1_000_000
			case arrow.Millisecond:
				if x > math.MaxInt64/1000 || x < math.MinInt64/1000 {
					if !hasNulls || src.IsValid(i) {
						fails = append(fails, int32(i))
						clearBit(out.bits, i)
					}
					continue
				}
				x *= 1000
			case arrow.Nanosecond:
				x = floorDiv(x, 1000)
			}
			out.v[i] = arrow.Timestamp(x)
		}
	default:
		out.release()
		panic("convert: no timestamp kernel for " + src.DataType().String())
	}
	return out.finish(to), fails
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func toDate32(mem memory.Allocator, src arrow.Array) (arrow.Array, []int32) {
	n := src.Len()
	out := newFixedOut[arrow.Date32](mem, n, src)
	var fails []int32
	hasNulls := src.NullN() > 0
	switch a := src.(type) {
	case *array.String, *array.LargeString:
		v, _ := newStrView(a)
		for i := 0; i < n; i++ {
			if hasNulls && src.IsNull(i) {
				continue
			}
			b := v.at(i)
			d, ok := batch.ParseDate(b)
			if !ok {
				if d, ok = batch.ParseDate(trimSpace(b)); !ok {
					fails = append(fails, int32(i))
					clearBit(out.bits, i)
					continue
				}
			}
			out.v[i] = arrow.Date32(d)
		}
	case *array.Date64:
		for i, d := range a.Date64Values() {
			out.v[i] = arrow.Date32(floorDiv(int64(d), 86_400_000))
		}
	case *array.Timestamp:
		perDay := int64(usPerDay)
		switch a.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			perDay = 86_400
		case arrow.Millisecond:
			perDay = 86_400_000
		case arrow.Nanosecond:
			perDay = usPerDay * 1000
		}
		for i, t := range a.TimestampValues() {
			out.v[i] = arrow.Date32(floorDiv(int64(t), perDay))
		}
	default:
		out.release()
		panic("convert: no date kernel for " + src.DataType().String())
	}
	return out.finish(arrow.FixedWidthTypes.Date32), fails
}
