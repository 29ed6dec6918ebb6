package generate

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column building: values are written straight into Arrow buffers from the
// batch's allocator, with no builder and nothing allocated per row.

// newBuf allocates n bytes from mem (contents undefined).
func newBuf(mem memory.Allocator, n int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(n)
	return b
}

// validity is a validity bitmap being filled (all mode: a table's columns
// are null on the other kinds' rows).
type validity struct {
	buf   *memory.Buffer
	bits  []byte
	valid int
}

func newValidity(mem memory.Allocator, n int) *validity {
	buf := newBuf(mem, (n+7)/8)
	bits := buf.Bytes()
	clear(bits)
	return &validity{buf: buf, bits: bits}
}

func (v *validity) set(i int) {
	v.bits[i>>3] |= 1 << (i & 7)
	v.valid++
}

// i64s is an int64 (or timestamp) column being filled. A column the
// pipeline does not read writes into shared scratch and is never built.
type i64s struct {
	buf *memory.Buffer // nil: not emitted
	v   []int64
}

// alloc prepares c for n rows: an Arrow buffer when need, else scratch
// (which every unneeded column shares: its values are never read). zero
// clears the buffer (rows left unwritten are null rows).
func (c *i64s) alloc(mem memory.Allocator, n int, need, zero bool, scratch []int64) {
	if !need {
		c.buf, c.v = nil, scratch[:n]
		return
	}
	c.buf = newBuf(mem, n*8)
	c.v = arrow.Int64Traits.CastFromBytes(c.buf.Bytes())[:n]
	if zero {
		clear(c.v)
	}
}

// array turns the column into an array of type t, taking the buffer.
func (c *i64s) array(t arrow.DataType, n int, v *validity) arrow.Array {
	a := fixedArray(t, n, v, c.buf)
	c.buf = nil
	return a
}

// fixedArray builds a fixed-width array over data (released: the array
// holds it) with validity v (nil: no nulls; not released).
func fixedArray(t arrow.DataType, n int, v *validity, data *memory.Buffer) arrow.Array {
	var vb *memory.Buffer
	nulls := 0
	if v != nil {
		vb, nulls = v.buf, n-v.valid
	}
	d := array.NewData(t, n, []*memory.Buffer{vb, data}, nil, nulls, 0)
	data.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}

// stringArray builds a string array from offsets and data (both released).
func stringArray(n int, v *validity, offs, data *memory.Buffer) arrow.Array {
	var vb *memory.Buffer
	nulls := 0
	if v != nil {
		vb, nulls = v.buf, n-v.valid
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{vb, offs, data}, nil, nulls, 0)
	offs.Release()
	data.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}

// pool is a small set of strings a string column takes its values from,
// by index. Index noString is the empty string (null rows).
type pool struct {
	s   [256]string
	len [256]int32
}

const noString = 255

func newPool(values ...string) *pool {
	if len(values) >= noString {
		panic("generate: string pool too large")
	}
	p := &pool{}
	for i, s := range values {
		p.s[i], p.len[i] = s, int32(len(s))
	}
	return p
}

// column builds the string column whose row i is p.s[idx[i]].
func (p *pool) column(mem memory.Allocator, idx []uint8, v *validity) arrow.Array {
	total := 0
	for _, i := range idx {
		total += int(p.len[i])
	}
	offs, data := newBuf(mem, (len(idx)+1)*4), newBuf(mem, total)
	ov := arrow.Int32Traits.CastFromBytes(offs.Bytes())[:len(idx)+1]
	dv := data.Bytes()
	pos := int32(0)
	for r, i := range idx {
		ov[r] = pos
		pos += int32(copy(dv[pos:], p.s[i]))
	}
	ov[len(idx)] = pos
	return stringArray(len(idx), v, offs, data)
}

// emptyStrings is a string column of n empty strings.
func emptyStrings(mem memory.Allocator, n int, v *validity) arrow.Array {
	offs := newBuf(mem, (n+1)*4)
	clear(offs.Bytes())
	return stringArray(n, v, offs, newBuf(mem, 0))
}

// fmix is the finalizer of splitmix64: a bijection of 64-bit words that
// spreads every input bit over the output.
func fmix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// mix is a well-spread 64-bit value for item i under seed: splitmix64
// of a per-(seed, i) counter, so any row's randomness is computed from its
// number alone, whatever the batch it falls in.
func mix(seed, i uint64) uint64 {
	return fmix(seed*0x9e3779b97f4a7c15 + i*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb)
}

// unitFloat maps 64 random bits to [0, 1).
func unitFloat(x uint64) float64 { return float64(x>>11) * (1.0 / (1 << 53)) }

// below maps the low 32 bits of x to [0, n) by a multiply, not a division.
func below(x uint64, n int64) int64 { return int64(((x & 0xffffffff) * uint64(n)) >> 32) }
