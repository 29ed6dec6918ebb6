package expr

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// columnType maps an input Arrow type to the canonical type its values
// load as; ok is false for unsupported types.
func columnType(dt arrow.DataType) (Type, bool) {
	switch dt.ID() {
	case arrow.NULL:
		return Null, true
	case arrow.BOOL:
		return Bool, true
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return Int, true
	case arrow.FLOAT32, arrow.FLOAT64:
		return Float, true
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY:
		return String, true
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return Timestamp, true
	case arrow.DURATION:
		return Duration, true
	case arrow.DICTIONARY:
		vt := dt.(*arrow.DictionaryType).ValueType
		switch vt.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
			return String, true
		}
	}
	return Null, false
}

// colNode loads an input column, normalized to its canonical type. The
// result is cached for the batch (a column referenced twice loads once).
type colNode struct {
	name  string
	slot  int // index in ctx.arrs
	field int // index in the compile schema
	t     Type
	dt    arrow.DataType
	gen   uint64
	out   vec
	buf   bufs
	err   error
}

func (n *colNode) typ() Type    { return n.t }
func (n *colNode) kids() []node { return nil }

func (n *colNode) eval(c *ctx) (*vec, error) {
	if n.gen == c.gen {
		return &n.out, n.err
	}
	n.gen = c.gen
	n.err = n.load(c.arrs[n.slot])
	return &n.out, n.err
}

// bitmapView returns bitmap buffer k of arr as a bitmap starting at row 0,
// without copying when the array offset is a multiple of 8.
func bitmapView(arr arrow.Array, k int, scratch *[]byte) []byte {
	d := arr.Data()
	buf := d.Buffers()[k]
	if buf == nil {
		return nil
	}
	off, n := d.Offset(), d.Len()
	b := buf.Bytes()
	// Views are whole 64-bit words long (Arrow pads buffers to 64 bytes),
	// as word loops expect; otherwise copy.
	if off%8 == 0 && len(b) >= off/8+bitmapBytes(n) {
		return b[off/8 : off/8+bitmapBytes(n)]
	}
	*scratch = growBytes(*scratch, bitmapBytes(n))
	bitutil.CopyBitmap(b, off, n, *scratch, 0)
	return *scratch
}

func validityOf(arr arrow.Array, scratch *[]byte) []byte {
	if arr.NullN() == 0 {
		return nil
	}
	return bitmapView(arr, 0, scratch)
}

func int64sOf[T ~int64](s []T) []int64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&s[0])), len(s))
}

func (n *colNode) load(arr arrow.Array) error {
	o, b := &n.out, &n.buf
	*o = vec{}
	rows := arr.Len()
	if arr.DataType().ID() == arrow.NULL {
		*o = *nullVec
		return nil
	}
	o.valid = validityOf(arr, &b.valid)
	switch a := arr.(type) {
	case *array.Int64:
		o.i = a.Int64Values()
	case *array.Int32:
		o.i = widen(&b.i, a.Int32Values())
	case *array.Int16:
		o.i = widen(&b.i, a.Int16Values())
	case *array.Int8:
		o.i = widen(&b.i, a.Int8Values())
	case *array.Uint32:
		o.i = widen(&b.i, a.Uint32Values())
	case *array.Uint16:
		o.i = widen(&b.i, a.Uint16Values())
	case *array.Uint8:
		o.i = widen(&b.i, a.Uint8Values())
	case *array.Uint64:
		vs := a.Uint64Values()
		for k, v := range vs {
			if v > math.MaxInt64 && (o.valid == nil || getBit(o.valid, k)) {
				return fmt.Errorf("%w: column %q row %d: uint64 value %d is above the int64 range", ErrEval, n.name, k, v)
			}
		}
		o.i = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(vs))), len(vs))
	case *array.Float64:
		o.f = a.Float64Values()
	case *array.Float32:
		vs := a.Float32Values()
		b.f = growFloats(b.f, len(vs))
		for k, v := range vs {
			b.f[k] = float64(v)
		}
		o.f = b.f
	case *array.Boolean:
		o.b = bitmapView(arr, 1, &b.b)
	case *array.String:
		o.off = a.ValueOffsets()
		if buf := a.Data().Buffers()[2]; buf != nil {
			o.data = buf.Bytes()
		}
	case *array.Binary:
		o.off = a.ValueOffsets()
		if buf := a.Data().Buffers()[2]; buf != nil {
			o.data = buf.Bytes()
		}
	case *array.LargeString:
		return n.loadLarge(a.ValueOffsets(), a.Data().Buffers()[2])
	case *array.LargeBinary:
		return n.loadLarge(a.ValueOffsets(), a.Data().Buffers()[2])
	case *array.StringView:
		b.off = growInt32s(b.off, rows+1)
		b.data = b.data[:0]
		b.off[0] = 0
		for k := 0; k < rows; k++ {
			if o.valid == nil || getBit(o.valid, k) {
				b.data = append(b.data, a.Value(k)...)
			}
			if len(b.data) > math.MaxInt32 {
				return fmt.Errorf("%w: column %q: more than 2 GiB of string data in one batch", ErrEval, n.name)
			}
			b.off[k+1] = int32(len(b.data))
		}
		o.off, o.data = b.off, b.data
	case *array.Dictionary:
		dict := a.Dictionary()
		b.off = growInt32s(b.off, rows+1)
		b.data = b.data[:0]
		b.off[0] = 0
		for k := 0; k < rows; k++ {
			if o.valid == nil || getBit(o.valid, k) {
				di := a.GetValueIndex(k)
				switch d := dict.(type) {
				case *array.String:
					b.data = append(b.data, d.Value(di)...)
				case *array.LargeString:
					b.data = append(b.data, d.Value(di)...)
				case *array.Binary:
					b.data = append(b.data, d.Value(di)...)
				case *array.LargeBinary:
					b.data = append(b.data, d.Value(di)...)
				}
			}
			if len(b.data) > math.MaxInt32 {
				return fmt.Errorf("%w: column %q: more than 2 GiB of string data in one batch", ErrEval, n.name)
			}
			b.off[k+1] = int32(len(b.data))
		}
		o.off, o.data = b.off, b.data
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		o.i, o.valid = n.scaleTime(int64sOf(a.TimestampValues()), unit, o.valid)
	case *array.Duration:
		unit := a.DataType().(*arrow.DurationType).Unit
		o.i, o.valid = n.scaleTime(int64sOf(a.DurationValues()), unit, o.valid)
	case *array.Date32:
		vs := a.Date32Values()
		b.i = growInts(b.i, len(vs))
		for k, v := range vs {
			b.i[k] = int64(v) * 86_400_000_000
		}
		o.i = b.i
	case *array.Date64:
		o.i, o.valid = n.scaleTime(int64sOf(a.Date64Values()), arrow.Millisecond, o.valid)
	default:
		return fmt.Errorf("%w: column %q has unsupported type %s", ErrEval, n.name, arr.DataType())
	}
	return nil
}

func widen[T int8 | int16 | int32 | uint8 | uint16 | uint32](dst *[]int64, vs []T) []int64 {
	*dst = growInts(*dst, len(vs))
	d := (*dst)[:len(vs)]
	for k, v := range vs {
		d[k] = int64(v)
	}
	return d
}

// scaleTime converts time values in unit to microseconds: nanoseconds are
// floored (so instants before the epoch stay before it), seconds and
// milliseconds are multiplied; a product out of the int64 range is null.
func (n *colNode) scaleTime(vs []int64, unit arrow.TimeUnit, valid []byte) ([]int64, []byte) {
	b := &n.buf
	switch unit {
	case arrow.Microsecond:
		return vs, valid
	case arrow.Nanosecond:
		b.i = growInts(b.i, len(vs))
		for k, v := range vs {
			q := v / 1000
			if v%1000 < 0 {
				q--
			}
			b.i[k] = q
		}
		return b.i, valid
	}
	mul := int64(1_000_000)
	if unit == arrow.Millisecond {
		mul = 1000
	}
	b.i = growInts(b.i, len(vs))
	lim := math.MaxInt64 / mul
	bad := false
	for k, v := range vs {
		b.i[k] = v * mul
		bad = bad || v > lim || v < -lim
	}
	if bad {
		valid = ownValid(&b.valid, valid, len(vs))
		for k, v := range vs {
			if v > lim || v < -lim {
				clearBit(valid, k)
			}
		}
	}
	return b.i, valid
}

// loadLarge loads int64 offsets as int32 ones (rebased on the first).
func (n *colNode) loadLarge(offs []int64, data *memory.Buffer) error {
	o, b := &n.out, &n.buf
	rows := len(offs) - 1
	base := offs[0]
	if offs[rows]-base > math.MaxInt32 {
		return fmt.Errorf("%w: column %q: more than 2 GiB of string data in one batch", ErrEval, n.name)
	}
	b.off = growInt32s(b.off, rows+1)
	for k, v := range offs {
		b.off[k] = int32(v - base)
	}
	o.off = b.off
	if data != nil {
		if bs := data.Bytes(); bs != nil {
			o.data = bs[base:offs[rows]]
		}
	}
	return nil
}
