package join

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
)

type keyClass int

const (
	clsNone keyClass = iota
	clsSigned
	clsUnsigned
	clsFloat
	clsBytes
	clsBool
	clsTemporal
)

func classOf(dt arrow.DataType) keyClass {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		dt = d.ValueType
	}
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return clsSigned
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return clsUnsigned
	case arrow.FLOAT32, arrow.FLOAT64:
		return clsFloat
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return clsBytes
	case arrow.BOOL:
		return clsBool
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return clsTemporal
	}
	return clsNone
}

func numeric(c keyClass) bool { return c == clsSigned || c == clsUnsigned || c == clsFloat }

// keyPair says how one left key and one right key are compared: directly
// (rowkey compares values of one class across widths), or both converted
// to int64 (a numeric key of another class: integers of any signedness and
// floats compare by value; a value with no exact int64 form never
// matches).
type keyPair struct {
	left, right string
	toInt       bool
}

func planKey(left, right string, lt, rt arrow.DataType) (keyPair, error) {
	p := keyPair{left: left, right: right}
	lc, rc := classOf(lt), classOf(rt)
	for _, side := range []struct {
		name string
		dt   arrow.DataType
	}{{left, lt}, {right, rt}} {
		if err := rowkey.Supported(side.dt); err != nil || classOf(side.dt) == clsNone {
			return p, fmt.Errorf("%s: key %q: %w %s", joinName, side.name, operators.ErrUnsupportedType, side.dt)
		}
	}
	switch {
	case lc == rc && lc == clsTemporal:
		l, r := lt, rt
		if d, ok := l.(*arrow.DictionaryType); ok {
			l = d.ValueType
		}
		if d, ok := r.(*arrow.DictionaryType); ok {
			r = d.ValueType
		}
		if !arrow.TypeEqual(l, r) {
			return p, fmt.Errorf("%s: %w: key %q is %s but %q is %s (cast one side with cast.apply)", joinName, operators.ErrTypeMismatch, left, lt, right, rt)
		}
	case lc == rc:
	case numeric(lc) && numeric(rc):
		if _, ok := lt.(*arrow.DictionaryType); ok {
			return p, fmt.Errorf("%s: key %q: %w dictionary-encoded %s joined with %s", joinName, left, operators.ErrUnsupportedType, lt, rt)
		}
		if _, ok := rt.(*arrow.DictionaryType); ok {
			return p, fmt.Errorf("%s: key %q: %w dictionary-encoded %s joined with %s", joinName, right, operators.ErrUnsupportedType, rt, lt)
		}
		p.toInt = true
	default:
		return p, fmt.Errorf("%s: %w: cannot join key %q (%s) with key %q (%s)", joinName, operators.ErrTypeMismatch, left, lt, right, rt)
	}
	return p, nil
}

// keyType is the type of the key column given to the hash table.
func (p keyPair) keyType(dt arrow.DataType) arrow.DataType {
	if p.toInt {
		return arrow.PrimitiveTypes.Int64
	}
	return dt
}

// keyColumn returns a's key form (a itself, retained, or its int64 form).
func (p keyPair) keyColumn(mem memory.Allocator, a arrow.Array) arrow.Array {
	if !p.toInt || a.DataType().ID() == arrow.INT64 {
		a.Retain()
		return a
	}
	n := a.Len()
	vals := make([]int64, n)
	valid := make([]bool, n)
	set := func(i int, v int64, ok bool) {
		vals[i], valid[i] = v, ok && a.IsValid(i)
	}
	switch a := a.(type) {
	case *array.Int8:
		for i, v := range a.Int8Values() {
			set(i, int64(v), true)
		}
	case *array.Int16:
		for i, v := range a.Int16Values() {
			set(i, int64(v), true)
		}
	case *array.Int32:
		for i, v := range a.Int32Values() {
			set(i, int64(v), true)
		}
	case *array.Uint8:
		for i, v := range a.Uint8Values() {
			set(i, int64(v), true)
		}
	case *array.Uint16:
		for i, v := range a.Uint16Values() {
			set(i, int64(v), true)
		}
	case *array.Uint32:
		for i, v := range a.Uint32Values() {
			set(i, int64(v), true)
		}
	case *array.Uint64:
		for i, v := range a.Uint64Values() {
			set(i, int64(v), v <= math.MaxInt64)
		}
	case *array.Float32:
		for i, v := range a.Float32Values() {
			x, ok := floatToInt(float64(v))
			set(i, x, ok)
		}
	case *array.Float64:
		for i, v := range a.Float64Values() {
			x, ok := floatToInt(v)
			set(i, x, ok)
		}
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, valid)
	return b.NewArray()
}

// floatToInt returns f as an int64 when it is integral and in range.
func floatToInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// clearNullKeys sets ids[i] = -1 for every row where some key is null
// (SQL: a null key never matches).
func clearNullKeys(cols []arrow.Array, ids []int32) {
	for _, c := range cols {
		if c.NullN() == 0 {
			continue
		}
		if d, ok := c.(*array.Dictionary); ok && d.Dictionary().NullN() > 0 {
			for i := range ids {
				if d.IsNull(i) || d.Dictionary().IsNull(d.GetValueIndex(i)) {
					ids[i] = -1
				}
			}
			continue
		}
		bits := c.NullBitmapBytes()
		off := c.Data().Offset()
		for i := range ids {
			if !bitutil.BitIsSet(bits, off+i) {
				ids[i] = -1
			}
		}
	}
}
