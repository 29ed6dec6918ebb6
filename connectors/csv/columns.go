package csvconn

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
)

// colKind is a column's physical parse path.
type colKind uint8

const (
	kString colKind = iota
	kInt
	kFloat
	kBool
	kTimestamp
	kDate
)

func kindOf(t arrow.DataType) colKind {
	switch t.ID() {
	case arrow.INT64:
		return kInt
	case arrow.FLOAT64:
		return kFloat
	case arrow.BOOL:
		return kBool
	case arrow.TIMESTAMP:
		return kTimestamp
	case arrow.DATE32:
		return kDate
	}
	return kString
}

// colBuf stages one column of a chunk in Go memory (reused from chunk to
// chunk by a worker); build copies it into allocator-owned Arrow buffers.
// Staging makes dropping a half-parsed bad row a matter of truncation.
type colBuf struct {
	kind  colKind
	typ   arrow.DataType
	i64   []int64 // int, timestamp
	f64   []float64
	i32   []int32 // date
	bools []bool
	offs  []int32 // string offsets (len rows+1)
	data  []byte  // string bytes
	valid []bool
	nulls int
}

func (c *colBuf) reset() {
	c.i64, c.f64, c.i32, c.bools = c.i64[:0], c.f64[:0], c.i32[:0], c.bools[:0]
	c.offs = append(c.offs[:0], 0)
	c.data = c.data[:0]
	c.valid = c.valid[:0]
	c.nulls = 0
}

func (c *colBuf) appendNull() {
	switch c.kind {
	case kInt, kTimestamp:
		c.i64 = append(c.i64, 0)
	case kFloat:
		c.f64 = append(c.f64, 0)
	case kBool:
		c.bools = append(c.bools, false)
	case kDate:
		c.i32 = append(c.i32, 0)
	default:
		c.offs = append(c.offs, int32(len(c.data)))
	}
	c.valid = append(c.valid, false)
	c.nulls++
}

// appendText parses v into the column; false means v does not fit.
func (c *colBuf) appendText(v []byte) bool {
	switch c.kind {
	case kInt:
		x, ok := batch.ParseInt(v)
		if !ok {
			return false
		}
		c.i64 = append(c.i64, x)
	case kFloat:
		x, ok := batch.ParseFloat(v)
		if !ok {
			return false
		}
		c.f64 = append(c.f64, x)
	case kTimestamp:
		x, ok := batch.ParseTimestamp(v)
		if !ok {
			return false
		}
		c.i64 = append(c.i64, x)
	case kBool:
		x, ok := batch.ParseBool(v)
		if !ok {
			return false
		}
		c.bools = append(c.bools, x)
	case kDate:
		x, ok := batch.ParseDate(v)
		if !ok {
			return false
		}
		c.i32 = append(c.i32, x)
	default:
		c.data = append(c.data, v...)
		c.offs = append(c.offs, int32(len(c.data)))
	}
	c.valid = append(c.valid, true)
	return true
}

// truncate drops rows from n on.
func (c *colBuf) truncate(n int) {
	if len(c.valid) <= n {
		return
	}
	for _, v := range c.valid[n:] {
		if !v {
			c.nulls--
		}
	}
	c.valid = c.valid[:n]
	switch c.kind {
	case kInt, kTimestamp:
		c.i64 = c.i64[:n]
	case kFloat:
		c.f64 = c.f64[:n]
	case kBool:
		c.bools = c.bools[:n]
	case kDate:
		c.i32 = c.i32[:n]
	default:
		c.offs = c.offs[:n+1]
		c.data = c.data[:c.offs[n]]
	}
}

func (c *colBuf) rows() int { return len(c.valid) }

func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}

func newBuf(mem memory.Allocator, b []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(b))
	copy(buf.Bytes(), b)
	return buf
}

func bitmapBuf(mem memory.Allocator, bits []bool) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(len(bits)))))
	out := buf.Bytes()
	clear(out)
	for i, v := range bits {
		if v {
			bitutil.SetBit(out, i)
		}
	}
	return buf
}

// build returns the column as a new Arrow array (the caller releases it).
func (c *colBuf) build(mem memory.Allocator) arrow.Array {
	n := c.rows()
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = bitmapBuf(mem, c.valid)
	}
	var bufs []*memory.Buffer
	switch c.kind {
	case kInt, kTimestamp:
		bufs = []*memory.Buffer{validity, newBuf(mem, asBytes(c.i64))}
	case kFloat:
		bufs = []*memory.Buffer{validity, newBuf(mem, asBytes(c.f64))}
	case kDate:
		bufs = []*memory.Buffer{validity, newBuf(mem, asBytes(c.i32))}
	case kBool:
		bufs = []*memory.Buffer{validity, bitmapBuf(mem, c.bools)}
	default:
		bufs = []*memory.Buffer{validity, newBuf(mem, asBytes(c.offs)), newBuf(mem, c.data)}
	}
	data := array.NewData(c.typ, n, bufs, nil, c.nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}
