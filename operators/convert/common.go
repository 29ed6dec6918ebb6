// Package convert provides the row transforms that change the type or the
// shape of columns: cast.apply, json.extract and chunk.apply.
package convert

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

// Register adds cast.apply, json.extract and chunk.apply to r.
func Register(r *flow.Registry) {
	r.Register(CastSpec())
	r.Register(JSONExtractSpec())
	r.Register(ChunkSpec())
}

// columnIndex returns the index of the named column, or an
// *operators.UnknownColumnError.
func columnIndex(stage string, schema *arrow.Schema, name string) (int, error) {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0], nil
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return -1, &operators.UnknownColumnError{Stage: stage, Column: name, Suggestion: flow.Nearest(name, names), Available: names}
}

// strView reads the values of a string or large string array without
// copying or allocating.
type strView struct {
	offs   []int32
	offs64 []int64
	data   []byte
}

func newStrView(arr arrow.Array) (strView, bool) {
	var v strView
	switch a := arr.(type) {
	case *array.String:
		v.offs = a.ValueOffsets()
	case *array.LargeString:
		v.offs64 = a.ValueOffsets()
	default:
		return v, false
	}
	if bufs := arr.Data().Buffers(); len(bufs) > 2 && bufs[2] != nil {
		v.data = bufs[2].Bytes()
	}
	return v, true
}

func (v *strView) at(i int) []byte {
	if v.offs != nil {
		return v.data[v.offs[i]:v.offs[i+1]]
	}
	return v.data[v.offs64[i]:v.offs64[i+1]]
}

// fixedOut is an output array of a fixed-width type being written in
// place: values are stored directly, and cells are nulled by clearing their
// validity bit.
type fixedOut[T arrow.FixedWidthType] struct {
	vals, valid *memory.Buffer
	v           []T
	bits        []byte
	n           int
}

// newFixedOut allocates an output of n values whose validity starts as a
// copy of src's (src may be nil: every cell valid).
func newFixedOut[T arrow.FixedWidthType](mem memory.Allocator, n int, src arrow.Array) *fixedOut[T] {
	var zero T
	o := &fixedOut[T]{n: n}
	o.vals = memory.NewResizableBuffer(mem)
	o.vals.Resize(n * int(sizeOf(zero)))
	o.v = arrow.GetData[T](o.vals.Bytes())[:n]
	o.valid = memory.NewResizableBuffer(mem)
	o.valid.Resize(int(bitutil.BytesForBits(int64(n))))
	o.bits = o.valid.Bytes()
	copyValidity(o.bits, src, n)
	return o
}

func sizeOf[T arrow.FixedWidthType](v T) uintptr {
	return uintptr(len(arrow.GetBytes([]T{v})))
}

// copyValidity sets bits to src's validity bitmap (all valid when src is
// nil or has no nulls).
func copyValidity(bits []byte, src arrow.Array, n int) {
	if src == nil || src.NullN() == 0 || len(src.NullBitmapBytes()) == 0 {
		for i := range bits {
			bits[i] = 0xff
		}
		return
	}
	bitutil.CopyBitmap(src.NullBitmapBytes(), src.Data().Offset(), n, bits, 0)
}

// finish returns the array (owned by the caller) and frees the buffers'
// extra references.
func (o *fixedOut[T]) finish(dt arrow.DataType) arrow.Array {
	nulls := o.n - bitutil.CountSetBits(o.bits, 0, o.n)
	valid := o.valid
	if nulls == 0 {
		valid = nil
	}
	data := array.NewData(dt, o.n, []*memory.Buffer{valid, o.vals}, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	o.vals.Release()
	o.valid.Release()
	return arr
}

// release frees an output that will not be finished.
func (o *fixedOut[T]) release() {
	o.vals.Release()
	o.valid.Release()
}

// joinedError is several reasons for one row, rendered "a; b".
type joinedError []error

func (e joinedError) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e joinedError) Unwrap() []error { return e }

func reasonFor(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return joinedError(errs)
}

func paramErr(key string, err error) error { return &flow.ParamError{Key: key, Err: err} }

var _ = fmt.Sprintf
