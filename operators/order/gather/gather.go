// Package gather builds record batches from rows picked out of several
// source batches of one schema: the "take" of sort.apply's output, of the
// k-way merge of its spilled runs, and of join.apply's output.
//
// Fixed-width columns (integers, floats, temporal types, decimals), booleans
// and string/binary columns (32- and 64-bit offsets) are gathered by typed
// loops over the raw buffers, straight from every source. Other types
// (lists, structs, dictionaries, ...) are gathered by concatenating the
// sources once and calling arrow's compute Take.
package gather

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NullSrc as a source index yields a null row.
const NullSrc = ^uint32(0)

// Gatherer picks rows out of a fixed list of source batches. It holds a
// reference to every source until Release. Not safe for concurrent use.
type Gatherer struct {
	mem     memory.Allocator
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	cols    [][]arrow.Array // per column, per source
	concat  []arrow.Array   // per column, lazily, for the fallback path
	starts  []int64         // per source, first row in the concatenation
}

// New returns a Gatherer over batches, which must all have schema (it
// Retains each of them).
func New(mem memory.Allocator, schema *arrow.Schema, batches []arrow.RecordBatch) *Gatherer {
	g := &Gatherer{mem: mem, schema: schema, batches: batches, cols: make([][]arrow.Array, schema.NumFields()), concat: make([]arrow.Array, schema.NumFields())}
	var start int64
	for _, b := range batches {
		b.Retain()
		g.starts = append(g.starts, start)
		start += b.NumRows()
	}
	for c := range g.cols {
		g.cols[c] = make([]arrow.Array, len(batches))
		for s, b := range batches {
			g.cols[c][s] = b.Column(c)
		}
	}
	return g
}

// Release drops the Gatherer's references.
func (g *Gatherer) Release() {
	for _, b := range g.batches {
		b.Release()
	}
	for _, a := range g.concat {
		if a != nil {
			a.Release()
		}
	}
	g.batches, g.concat = nil, nil
}

// Gather returns a batch of len(src) rows: row i is row row[i] of source
// src[i], or all nulls when src[i] == NullSrc. The caller owns the result.
func (g *Gatherer) Gather(src, row []uint32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, len(g.cols))
	for c := range g.cols {
		a, err := g.Column(c, src, row)
		if err != nil {
			for _, a := range cols {
				a.Release()
			}
			return nil, err
		}
		cols = append(cols, a)
	}
	out := array.NewRecordBatch(g.schema, cols, int64(len(src)))
	for _, a := range cols {
		a.Release()
	}
	return out, nil
}

// Column gathers column c only (see Gather).
func (g *Gatherer) Column(c int, src, row []uint32) (arrow.Array, error) {
	dt := g.schema.Field(c).Type
	srcs := g.cols[c]
	n := len(src)
	switch {
	case dt.ID() == arrow.NULL:
		return array.MakeArrayOfNull(g.mem, dt, n), nil
	case dt.ID() == arrow.BOOL:
		return gatherBool(g.mem, dt, srcs, src, row), nil
	case dt.ID() == arrow.STRING || dt.ID() == arrow.BINARY:
		return gatherVar[int32](g.mem, dt, srcs, src, row), nil
	case dt.ID() == arrow.LARGE_STRING || dt.ID() == arrow.LARGE_BINARY:
		return gatherVar[int64](g.mem, dt, srcs, src, row), nil
	}
	if fw, ok := dt.(arrow.FixedWidthDataType); ok && dt.ID() != arrow.DICTIONARY && dt.ID() != arrow.EXTENSION && fw.BitWidth() >= 8 && fw.BitWidth()%8 == 0 && simpleLayout(dt) {
		return gatherFixed(g.mem, dt, fw.BitWidth()/8, srcs, src, row), nil
	}
	return g.fallback(c, src, row)
}

// simpleLayout reports whether dt is laid out as [validity, values].
func simpleLayout(dt arrow.DataType) bool {
	l := dt.Layout()
	return len(l.Buffers) == 2
}

func (g *Gatherer) fallback(c int, src, row []uint32) (arrow.Array, error) {
	if g.concat[c] == nil {
		if len(g.cols[c]) == 0 {
			return array.MakeArrayOfNull(g.mem, g.schema.Field(c).Type, len(src)), nil
		}
		a, err := array.Concatenate(g.cols[c], g.mem)
		if err != nil {
			return nil, fmt.Errorf("gather column %q: %w", g.schema.Field(c).Name, err)
		}
		g.concat[c] = a
	}
	ib := array.NewInt64Builder(g.mem)
	defer ib.Release()
	ib.Reserve(len(src))
	for i, s := range src {
		if s == NullSrc {
			ib.AppendNull()
		} else {
			ib.UnsafeAppend(g.starts[s] + int64(row[i]))
		}
	}
	idx := ib.NewArray()
	defer idx.Release()
	ctx := compute.WithAllocator(context.Background(), g.mem)
	out, err := compute.TakeArray(ctx, g.concat[c], idx)
	if err != nil {
		return nil, fmt.Errorf("gather column %q: %w", g.schema.Field(c).Name, err)
	}
	return out, nil
}

// validity builds the output validity bitmap, or returns nil when every
// output row is valid.
func validity(mem memory.Allocator, srcs []arrow.Array, src, row []uint32) (*memory.Buffer, int) {
	anyNull := false
	for _, a := range srcs {
		if a.NullN() > 0 {
			anyNull = true
			break
		}
	}
	if !anyNull {
		for _, s := range src {
			if s == NullSrc {
				anyNull = true
				break
			}
		}
	}
	if !anyNull {
		return nil, 0
	}
	n := len(src)
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	clear(bits)
	nulls := 0
	for i, s := range src {
		if s == NullSrc {
			nulls++
			continue
		}
		a := srcs[s]
		if a.NullN() > 0 && a.IsNull(int(row[i])) {
			nulls++
			continue
		}
		bitutil.SetBit(bits, i)
	}
	return buf, nulls
}

func valueBytes(a arrow.Array) []byte {
	b := a.Data().Buffers()[1]
	if b == nil {
		return nil
	}
	return b.Bytes()
}

func castSlice[T any](b []byte) []T {
	var z T
	sz := int(unsafe.Sizeof(z))
	if len(b) < sz {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/sz)
}

func gatherFixed(mem memory.Allocator, dt arrow.DataType, width int, srcs []arrow.Array, src, row []uint32) arrow.Array {
	n := len(src)
	valid, nulls := validity(mem, srcs, src, row)
	data := memory.NewResizableBuffer(mem)
	data.Resize(n * width)
	out := data.Bytes()
	switch width {
	case 8:
		typedFixed[uint64](out, srcs, src, row)
	case 4:
		typedFixed[uint32](out, srcs, src, row)
	case 2:
		typedFixed[uint16](out, srcs, src, row)
	case 1:
		typedFixed[uint8](out, srcs, src, row)
	case 16:
		typedFixed[[2]uint64](out, srcs, src, row)
	default:
		for i, s := range src {
			d := out[i*width : (i+1)*width]
			if s == NullSrc {
				clear(d)
				continue
			}
			a := srcs[s]
			off := (a.Data().Offset() + int(row[i])) * width
			copy(d, valueBytes(a)[off:off+width])
		}
	}
	return finish(dt, n, valid, nulls, data, nil)
}

func typedFixed[T any](out []byte, srcs []arrow.Array, src, row []uint32) {
	dst := castSlice[T](out)
	vals := make([][]T, len(srcs))
	for s, a := range srcs {
		v := castSlice[T](valueBytes(a))
		if v != nil {
			v = v[a.Data().Offset():]
		}
		vals[s] = v
	}
	var zero T
	if len(vals) == 1 {
		v := vals[0]
		for i, s := range src {
			if s == NullSrc {
				dst[i] = zero
			} else {
				dst[i] = v[row[i]]
			}
		}
		return
	}
	for i, s := range src {
		if s == NullSrc {
			dst[i] = zero
		} else {
			dst[i] = vals[s][row[i]]
		}
	}
}

func finish(dt arrow.DataType, n int, valid *memory.Buffer, nulls int, data, extra *memory.Buffer) arrow.Array {
	bufs := []*memory.Buffer{valid, data}
	if extra != nil {
		bufs = append(bufs, extra)
	}
	d := array.NewData(dt, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer d.Release()
	return array.MakeFromData(d)
}

func gatherBool(mem memory.Allocator, dt arrow.DataType, srcs []arrow.Array, src, row []uint32) arrow.Array {
	n := len(src)
	valid, nulls := validity(mem, srcs, src, row)
	data := memory.NewResizableBuffer(mem)
	data.Resize(int(bitutil.BytesForBits(int64(n))))
	out := data.Bytes()
	clear(out)
	for i, s := range src {
		if s == NullSrc {
			continue
		}
		a := srcs[s]
		if bitutil.BitIsSet(valueBytes(a), a.Data().Offset()+int(row[i])) {
			bitutil.SetBit(out, i)
		}
	}
	return finish(dt, n, valid, nulls, data, nil)
}

func gatherVar[O int32 | int64](mem memory.Allocator, dt arrow.DataType, srcs []arrow.Array, src, row []uint32) arrow.Array {
	n := len(src)
	valid, nulls := validity(mem, srcs, src, row)
	offs := make([][]O, len(srcs))
	datas := make([][]byte, len(srcs))
	for s, a := range srcs {
		bufs := a.Data().Buffers()
		if bufs[1] != nil {
			offs[s] = castSlice[O](bufs[1].Bytes())[a.Data().Offset():]
		}
		if len(bufs) > 2 && bufs[2] != nil {
			datas[s] = bufs[2].Bytes()
		}
	}
	var total int
	for i, s := range src {
		if s != NullSrc && offs[s] != nil {
			o := offs[s]
			total += int(o[row[i]+1] - o[row[i]])
		}
	}
	var z O
	obuf := memory.NewResizableBuffer(mem)
	obuf.Resize((n + 1) * int(unsafe.Sizeof(z)))
	dbuf := memory.NewResizableBuffer(mem)
	dbuf.Resize(total)
	outOffs := castSlice[O](obuf.Bytes())
	outData := dbuf.Bytes()
	pos := 0
	outOffs[0] = 0
	for i, s := range src {
		if s != NullSrc && offs[s] != nil {
			o := offs[s]
			lo, hi := o[row[i]], o[row[i]+1]
			pos += copy(outData[pos:], datas[s][lo:hi])
		}
		outOffs[i+1] = O(pos)
	}
	return finish(dt, n, valid, nulls, obuf, dbuf)
}
