package rowkey

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// canonicalNaN is the key of every NaN.
const canonicalNaN = 0x7ff8000000000001

// fixedCol maps fixed-width values, normalized to a uint64 (signed ints
// sign-extended, floats as float64 bits with -0 and NaN canonical, bools as
// 0/1), to column-local ids.
type fixedCol struct {
	typ    arrow.DataType // output type
	class  class
	tab    u64Table
	nullID int32
	nulls  int32 // how many ids are null (0 or 1)
	keys   []uint64
	dkeys  []uint64    // prepared dictionary values
	dict   arrow.Array // prepared dictionary (borrowed during one call)
}

func newFixedCol(typ arrow.DataType, c class) *fixedCol {
	f := &fixedCol{typ: typ, class: c, nullID: -1}
	f.tab.init()
	return f
}

func normFloat(v float64) uint64 {
	if v == 0 {
		return 0
	}
	if v != v {
		return canonicalNaN
	}
	return math.Float64bits(v)
}

func signedKeys[T int8 | int16 | int32 | int64](dst []uint64, v []T) {
	for i, x := range v {
		dst[i] = uint64(int64(x))
	}
}

func unsignedKeys[T uint8 | uint16 | uint32 | uint64](dst []uint64, v []T) {
	for i, x := range v {
		dst[i] = uint64(x)
	}
}

func floatKeys[T float32 | float64](dst []uint64, v []T) {
	for i, x := range v {
		dst[i] = normFloat(float64(x))
	}
}

// normalize fills f.keys[:n] with a's normalized values (nulls have
// arbitrary keys) and returns it.
func (f *fixedCol) normalize(a arrow.Array) []uint64 {
	n := a.Len()
	if cap(f.keys) < n {
		f.keys = make([]uint64, n)
	}
	k := f.keys[:n]
	d := a.Data()
	switch a.DataType().ID() {
	case arrow.INT8:
		signedKeys(k, arrow.GetValues[int8](d, 1))
	case arrow.INT16:
		signedKeys(k, arrow.GetValues[int16](d, 1))
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		signedKeys(k, arrow.GetValues[int32](d, 1))
	case arrow.INT64, arrow.DATE64, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		signedKeys(k, arrow.GetValues[int64](d, 1))
	case arrow.UINT8:
		unsignedKeys(k, arrow.GetValues[uint8](d, 1))
	case arrow.UINT16:
		unsignedKeys(k, arrow.GetValues[uint16](d, 1))
	case arrow.UINT32:
		unsignedKeys(k, arrow.GetValues[uint32](d, 1))
	case arrow.UINT64:
		unsignedKeys(k, arrow.GetValues[uint64](d, 1))
	case arrow.FLOAT32:
		floatKeys(k, arrow.GetValues[float32](d, 1))
	case arrow.FLOAT64:
		floatKeys(k, arrow.GetValues[float64](d, 1))
	case arrow.BOOL:
		b := a.(*array.Boolean)
		for i := range k {
			if b.Value(i) {
				k[i] = 1
			} else {
				k[i] = 0
			}
		}
	}
	return k
}

func (f *fixedCol) insert(a arrow.Array, ids []int32) {
	k := f.normalize(a)
	ids = ids[:len(k)]
	if a.NullN() == 0 {
		f.tab.insertAll(k, ids)
		return
	}
	bm, off := a.NullBitmapBytes(), a.Data().Offset()
	for i, x := range k {
		if bitutil.BitIsSet(bm, off+i) {
			ids[i] = f.tab.insert(x)
		} else {
			ids[i] = f.null()
		}
	}
}

func (f *fixedCol) null() int32 {
	if f.nullID < 0 {
		f.nullID = f.tab.appendKey(0)
		f.nulls = 1
	}
	return f.nullID
}

func (f *fixedCol) lookup(a arrow.Array, ids []int32) {
	k := f.normalize(a)
	ids = ids[:len(k)]
	if a.NullN() == 0 {
		for i, x := range k {
			ids[i] = f.tab.lookup(x)
		}
		return
	}
	bm, off := a.NullBitmapBytes(), a.Data().Offset()
	for i, x := range k {
		if bitutil.BitIsSet(bm, off+i) {
			ids[i] = f.tab.lookup(x)
		} else {
			ids[i] = f.nullID
		}
	}
}

// prepare normalizes a dictionary's values for insertAt and lookupAt.
func (f *fixedCol) prepare(dict arrow.Array) {
	f.dict = dict
	if dict == nil {
		return
	}
	k := f.normalize(dict)
	f.dkeys = append(f.dkeys[:0], k...)
}

func (f *fixedCol) insertAt(j int) int32 {
	if f.dict.IsNull(j) {
		return f.null()
	}
	return f.tab.insert(f.dkeys[j])
}

func (f *fixedCol) lookupAt(j int) int32 {
	if f.dict.IsNull(j) {
		return f.nullID
	}
	return f.tab.lookup(f.dkeys[j])
}

func (f *fixedCol) len() int { return len(f.tab.keys) }

func (f *fixedCol) bytes() int64 {
	return f.tab.bytes() + int64(cap(f.keys))*8 + int64(cap(f.dkeys))*8
}

func takeSigned[T int8 | int16 | int32 | int64](out []T, keys []uint64, ids []int32) {
	for i, id := range ids {
		out[i] = T(int64(keys[id]))
	}
}

func takeUnsigned[T uint8 | uint16 | uint32 | uint64](out []T, keys []uint64, ids []int32) {
	for i, id := range ids {
		out[i] = T(keys[id])
	}
}

func takeFloat[T float32 | float64](out []T, keys []uint64, ids []int32) {
	for i, id := range ids {
		out[i] = T(math.Float64frombits(keys[id]))
	}
}

// take builds a column of f.typ holding the values of the given local ids.
func (f *fixedCol) take(mem memory.Allocator, ids []int32) arrow.Array {
	n := len(ids)
	keys := f.tab.keys
	if f.typ.ID() == arrow.BOOL {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		for _, id := range ids {
			if id == f.nullID {
				b.AppendNull()
			} else {
				b.UnsafeAppend(keys[id] == 1)
			}
		}
		return b.NewArray()
	}
	width := f.typ.(arrow.FixedWidthDataType).BitWidth() / 8
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * width)
	raw := buf.Bytes()
	switch f.typ.ID() {
	case arrow.INT8:
		takeSigned(arrow.GetData[int8](raw), keys, ids)
	case arrow.INT16:
		takeSigned(arrow.GetData[int16](raw), keys, ids)
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		takeSigned(arrow.GetData[int32](raw), keys, ids)
	case arrow.INT64, arrow.DATE64, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		takeSigned(arrow.GetData[int64](raw), keys, ids)
	case arrow.UINT8:
		takeUnsigned(arrow.GetData[uint8](raw), keys, ids)
	case arrow.UINT16:
		takeUnsigned(arrow.GetData[uint16](raw), keys, ids)
	case arrow.UINT32:
		takeUnsigned(arrow.GetData[uint32](raw), keys, ids)
	case arrow.UINT64:
		takeUnsigned(arrow.GetData[uint64](raw), keys, ids)
	case arrow.FLOAT32:
		takeFloat(arrow.GetData[float32](raw), keys, ids)
	case arrow.FLOAT64:
		takeFloat(arrow.GetData[float64](raw), keys, ids)
	}
	var validity *memory.Buffer
	nulls := 0
	if f.nullID >= 0 {
		for _, id := range ids {
			if id == f.nullID {
				nulls++
			}
		}
		if nulls > 0 {
			validity = memory.NewResizableBuffer(mem)
			validity.Resize(int(bitutil.BytesForBits(int64(n))))
			vb := validity.Bytes()
			for i := range vb {
				vb[i] = 0
			}
			for i, id := range ids {
				if id != f.nullID {
					bitutil.SetBit(vb, i)
				}
			}
		}
	}
	data := array.NewData(f.typ, n, []*memory.Buffer{validity, buf}, nil, nulls, 0)
	a := array.MakeFromData(data)
	data.Release()
	buf.Release()
	if validity != nil {
		validity.Release()
	}
	return a
}
