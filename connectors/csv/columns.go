package csvconn

import (
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

// fieldTable is a chunk split into fields: for row r and field j, the
// field's bytes are src[b[(r*stride+j)*2] : b[(r*stride+j)*2+1]].
type fieldTable struct {
	src    []byte
	b      []int32
	stride int
	rows   int
}

func (t *fieldTable) field(r, j int) []byte {
	k := (r*t.stride + j) * 2
	return t.src[t.b[k]:t.b[k+1]]
}

// column parsing is columnar: one tight, type-specific loop per column
// over every row of the chunk, writing values at fixed positions in an
// allocator-owned buffer. A value that does not fit marks its row bad;
// bad rows are compacted away before string columns are filled.

// nullTest reports whether a field is null.
type nullTest struct {
	empty bool
	other [][]byte
}

func (n *nullTest) is(v []byte) bool {
	if len(v) == 0 {
		return n.empty
	}
	for _, o := range n.other {
		if string(v) == string(o) {
			return true
		}
	}
	return false
}

// fixedCol is a non-string column being parsed.
type fixedCol struct {
	kind  colKind
	vals  *memory.Buffer // values, or the bool bitmap
	valid []bool
	nulls int
	tp    batch.TimestampParser
}

func newFixed(mem memory.Allocator, kind colKind, rows int, valid []bool) *fixedCol {
	c := &fixedCol{kind: kind, vals: memory.NewResizableBuffer(mem), valid: valid[:rows]}
	switch kind {
	case kDate:
		c.vals.Resize(rows * 4)
	case kBool:
		c.vals.Resize(int(bitutil.BytesForBits(int64(rows))))
		clear(c.vals.Bytes())
	default:
		c.vals.Resize(rows * 8)
	}
	return c
}

// parseRange parses field j of rows [r0, r1). bad[r] is set to j+1 for
// rows whose value does not fit (unless already set).
func (c *fixedCol) parseRange(t *fieldTable, j, r0, r1 int, nulls *nullTest, bad []int32) {
	out := c.vals.Bytes()
	simpleNull := len(nulls.other) == 0
	fail := func(r int) {
		c.valid[r] = false
		if bad[r] == 0 {
			bad[r] = int32(j + 1)
		}
	}
	isNull := func(v []byte) bool {
		if len(v) == 0 {
			return nulls.empty
		}
		return !simpleNull && nulls.is(v)
	}
	switch c.kind {
	case kInt:
		vs := arrow.Int64Traits.CastFromBytes(out)
		for r := r0; r < r1; r++ {
			v := t.field(r, j)
			if x, ok := batch.ParseInt(v); ok {
				vs[r], c.valid[r] = x, true
				continue
			}
			vs[r] = 0
			if isNull(v) {
				c.valid[r] = false
				c.nulls++
			} else {
				fail(r)
			}
		}
	case kFloat:
		vs := arrow.Float64Traits.CastFromBytes(out)
		for r := r0; r < r1; r++ {
			v := t.field(r, j)
			if x, ok := batch.ParseFloat(v); ok {
				vs[r], c.valid[r] = x, true
				continue
			}
			vs[r] = 0
			if isNull(v) {
				c.valid[r] = false
				c.nulls++
			} else {
				fail(r)
			}
		}
	case kTimestamp:
		vs := arrow.Int64Traits.CastFromBytes(out)
		for r := r0; r < r1; r++ {
			v := t.field(r, j)
			if x, ok := c.tp.Parse(v); ok {
				vs[r], c.valid[r] = x, true
				continue
			}
			vs[r] = 0
			if isNull(v) {
				c.valid[r] = false
				c.nulls++
			} else {
				fail(r)
			}
		}
	case kDate:
		vs := arrow.Int32Traits.CastFromBytes(out)
		for r := r0; r < r1; r++ {
			v := t.field(r, j)
			if isNull(v) {
				vs[r], c.valid[r] = 0, false
				c.nulls++
				continue
			}
			x, ok := batch.ParseDate(v)
			vs[r], c.valid[r] = x, ok
			if !ok {
				fail(r)
			}
		}
	case kBool:
		for r := r0; r < r1; r++ {
			v := t.field(r, j)
			if isNull(v) {
				c.valid[r] = false
				c.nulls++
				continue
			}
			x, ok := batch.ParseBool(v)
			c.valid[r] = ok
			if !ok {
				fail(r)
			} else if x {
				bitutil.SetBit(out, r)
			}
		}
	}
	// A null value that also parses (e.g. null_values = ["0"]) is null.
	if !simpleNull && c.kind != kDate && c.kind != kBool {
		for r := r0; r < r1; r++ {
			if c.valid[r] && nulls.is(t.field(r, j)) {
				c.valid[r] = false
				c.nulls++
			}
		}
	}
}

// strCol is a string column being filled.
type strCol struct {
	offs, data *memory.Buffer
	ov         []int32
	db         []byte
	pos        int
	valid      []bool
	nulls      int
}

func newStr(mem memory.Allocator, rows, bytes int, valid []bool) *strCol {
	c := &strCol{offs: memory.NewResizableBuffer(mem), data: memory.NewResizableBuffer(mem), valid: valid[:rows]}
	c.offs.Resize((rows + 1) * 4)
	c.data.Resize(bytes)
	c.ov = arrow.Int32Traits.CastFromBytes(c.offs.Bytes())
	c.db = c.data.Bytes()
	return c
}

func (c *strCol) fillRange(t *fieldTable, j, r0, r1 int, nulls *nullTest) {
	simpleNull := len(nulls.other) == 0
	pos := c.pos
	for r := r0; r < r1; r++ {
		v := t.field(r, j)
		c.ov[r] = int32(pos)
		if (len(v) == 0 && nulls.empty) || (!simpleNull && len(v) > 0 && nulls.is(v)) {
			c.valid[r] = false
			c.nulls++
			continue
		}
		c.valid[r] = true
		pos += copy(c.db[pos:], v)
	}
	c.pos = pos
}

func (c *strCol) array(mem memory.Allocator) arrow.Array {
	n := len(c.valid)
	c.ov[n] = int32(c.pos)
	c.data.ResizeNoShrink(c.pos)
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = bitmapBuf(mem, c.valid)
	}
	return newArray(arrow.BinaryTypes.String, n, c.nulls, validity, c.offs, c.data)
}

func (c *strCol) release() {
	c.offs.Release()
	c.data.Release()
}

// compact keeps only the rows listed in keep (ascending).
func (c *fixedCol) compact(keep []int32) {
	kind := c.kind
	out := c.vals.Bytes()
	nulls := 0
	for i, r := range keep {
		c.valid[i] = c.valid[r]
		if !c.valid[i] {
			nulls++
		}
		switch kind {
		case kInt, kTimestamp, kFloat:
			copy(out[i*8:i*8+8], out[r*8:r*8+8])
		case kDate:
			copy(out[i*4:i*4+4], out[r*4:r*4+4])
		case kBool:
			bitutil.SetBitTo(out, i, bitutil.BitIsSet(out, int(r)))
		}
	}
	c.valid = c.valid[:len(keep)]
	c.nulls = nulls
	switch kind {
	case kInt, kTimestamp, kFloat:
		c.vals.ResizeNoShrink(len(keep) * 8)
	case kDate:
		c.vals.ResizeNoShrink(len(keep) * 4)
	}
}

// array turns the column into an Arrow array of n rows (the caller
// releases it); the column must not be used afterwards.
func (c *fixedCol) array(mem memory.Allocator, typ arrow.DataType) arrow.Array {
	n := len(c.valid)
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = bitmapBuf(mem, c.valid)
	}
	return newArray(typ, n, c.nulls, validity, c.vals)
}

// stringArray builds a string column from field j of the kept rows (all
// rows when keep is nil).
func stringArray(mem memory.Allocator, t *fieldTable, j int, keep []int32, nulls *nullTest, valid []bool) arrow.Array {
	n := t.rows
	if keep != nil {
		n = len(keep)
	}
	row := func(i int) int {
		if keep != nil {
			return int(keep[i])
		}
		return i
	}
	total := 0
	for i := range n {
		k := (row(i)*t.stride + j) * 2
		total += int(t.b[k+1] - t.b[k])
	}
	offs := memory.NewResizableBuffer(mem)
	offs.Resize((n + 1) * 4)
	data := memory.NewResizableBuffer(mem)
	data.Resize(total)
	ov := arrow.Int32Traits.CastFromBytes(offs.Bytes())
	db := data.Bytes()
	valid = valid[:n]
	nullCount := 0
	pos := 0
	simpleNull := len(nulls.other) == 0
	for i := range n {
		v := t.field(row(i), j)
		ov[i] = int32(pos)
		if (len(v) == 0 && nulls.empty) || (!simpleNull && len(v) > 0 && nulls.is(v)) {
			valid[i] = false
			nullCount++
			continue
		}
		valid[i] = true
		pos += copy(db[pos:], v)
	}
	ov[n] = int32(pos)
	data.ResizeNoShrink(pos)
	var validity *memory.Buffer
	if nullCount > 0 {
		validity = bitmapBuf(mem, valid)
	}
	return newArray(arrow.BinaryTypes.String, n, nullCount, validity, offs, data)
}

// nullArray is an all-null column of n rows (a column an input lacks).
func nullArray(mem memory.Allocator, typ arrow.DataType, n int) arrow.Array {
	b := array.NewBuilder(mem, typ)
	defer b.Release()
	b.AppendNulls(n)
	return b.NewArray()
}

func newArray(typ arrow.DataType, n, nulls int, bufs ...*memory.Buffer) arrow.Array {
	data := array.NewData(typ, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	arr := array.MakeFromData(data)
	data.Release()
	return arr
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
