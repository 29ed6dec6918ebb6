package expr

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// node is a compiled plan node: it evaluates to a vector of its type over
// the whole batch (or a scalar).
type node interface {
	typ() Type
	eval(c *ctx) (*vec, error)
	kids() []node
}

// selector is implemented by boolean nodes that can write the bitmap of
// their TRUE rows directly (filter's hot path).
type selector interface {
	selectTrue(c *ctx, out []byte) error
}

// ctx is the state of one evaluation.
type ctx struct {
	n    int
	gen  uint64
	arrs []arrow.Array // the batch's columns, by colNode slot
	now  func() int64
	p    *Program
}

// Option configures Compile.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithNow sets the clock now() reads (default time.Now). now() is read once
// per evaluated batch.
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Program is a compiled expression. It evaluates whole batches with typed
// vector loops; scratch buffers are reused from batch to batch, so a
// Program is NOT safe for concurrent use: use one per goroutine (compile
// again, it is cheap).
type Program struct {
	expr   *Expr
	root   node
	t      Type
	schema *arrow.Schema
	cols   []*colNode
	opts   options
	gen    uint64
	arrs   []arrow.Array
	sel    []byte // Select scratch
	nowV   int64
	nowGen uint64
}

// Type returns the Arrow type of the program's result.
func (p *Program) Type() arrow.DataType { return p.t.Arrow() }

// ResultType returns the expression language type of the result.
func (p *Program) ResultType() Type { return p.t }

// Expr returns the parsed expression.
func (p *Program) Expr() *Expr { return p.expr }

// Columns returns the referenced columns, in order of first use.
func (p *Program) Columns() []string { return p.expr.Columns() }

func (p *Program) begin(b arrow.RecordBatch) (*ctx, error) {
	p.gen++
	if cap(p.arrs) < len(p.cols) {
		p.arrs = make([]arrow.Array, len(p.cols))
	}
	p.arrs = p.arrs[:len(p.cols)]
	same := b.Schema() == p.schema
	for k, c := range p.cols {
		if same {
			p.arrs[k] = b.Column(c.field)
			continue
		}
		idx := b.Schema().FieldIndices(c.name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: column %q is not in the batch", ErrUnknownColumn, c.name)
		}
		arr := b.Column(idx[0])
		if !arrow.TypeEqual(arr.DataType(), c.dt) {
			t, ok := columnType(arr.DataType())
			if !ok || t != c.t {
				return nil, fmt.Errorf("%w: column %q has type %s in this batch, %s when the expression was compiled", ErrType, c.name, arr.DataType(), c.dt)
			}
		}
		p.arrs[k] = arr
	}
	return &ctx{n: int(b.NumRows()), gen: p.gen, arrs: p.arrs, now: p.nowMicros, p: p}, nil
}

func (p *Program) nowMicros() int64 {
	if p.nowGen != p.gen {
		p.nowGen = p.gen
		p.nowV = p.opts.now().UnixMicro()
	}
	return p.nowV
}

// Eval evaluates the program over b and returns a column of b.NumRows()
// values of Type(), allocated from mem; the caller releases it.
func (p *Program) Eval(mem memory.Allocator, b arrow.RecordBatch) (arrow.Array, error) {
	c, err := p.begin(b)
	if err != nil {
		return nil, err
	}
	if a, ok := p.root.(*arithNode); ok && c.n > 0 {
		return p.evalInto(mem, c, a)
	}
	v, err := p.root.eval(c)
	if err != nil {
		return nil, err
	}
	return toArray(mem, p.t, v, c.n), nil
}

// evalInto evaluates an arithmetic root directly into the result buffer
// (saving the copy from scratch).
func (p *Program) evalInto(mem memory.Allocator, c *ctx, a *arithNode) (arrow.Array, error) {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(c.n * 8)
	savedI, savedF := a.buf.i, a.buf.f
	if a.float {
		a.buf.f = arrow.Float64Traits.CastFromBytes(buf.Bytes())
	} else {
		a.buf.i = arrow.Int64Traits.CastFromBytes(buf.Bytes())
	}
	v, err := a.eval(c)
	a.buf.i, a.buf.f = savedI, savedF
	if err != nil {
		buf.Release()
		return nil, err
	}
	if v.scalar || (a.float && &v.f[0] != &arrow.Float64Traits.CastFromBytes(buf.Bytes())[0]) ||
		(!a.float && &v.i[0] != &arrow.Int64Traits.CastFromBytes(buf.Bytes())[0]) {
		buf.Release()
		return toArray(mem, p.t, v, c.n), nil
	}
	var validBuf *memory.Buffer
	nulls := 0
	if v.valid != nil {
		if nulls = c.n - countBits(v.valid, c.n); nulls > 0 {
			validBuf = memory.NewResizableBuffer(mem)
			validBuf.Resize((c.n + 7) / 8)
			copy(validBuf.Bytes(), v.valid[:(c.n+7)/8])
		}
	}
	d := array.NewData(p.t.Arrow(), c.n, []*memory.Buffer{validBuf, buf}, nil, nulls, 0)
	buf.Release()
	if validBuf != nil {
		validBuf.Release()
	}
	defer d.Release()
	return array.MakeFromData(d), nil
}

// Select sets bit i of out (LSB order, like an Arrow bitmap) iff the
// boolean program is TRUE on row i; null and false give 0. out must have
// room for b.NumRows() bits; bits past the last row are left unspecified.
func (p *Program) Select(mem memory.Allocator, b arrow.RecordBatch, out []byte) error {
	if p.t != Bool && p.t != Null {
		return fmt.Errorf("%w: Select needs a boolean expression, this one is %s", ErrType, p.t)
	}
	c, err := p.begin(b)
	if err != nil {
		return err
	}
	nb := (c.n + 7) / 8
	if len(out) < nb {
		return fmt.Errorf("expr: Select: out has %d bytes, %d rows need %d", len(out), c.n, nb)
	}
	return selectInto(c, p.root, out[:nb])
}

// selectInto writes the TRUE bitmap of boolean node n into out (exactly
// (c.n+7)/8 bytes).
func selectInto(c *ctx, n node, out []byte) error {
	if s, ok := n.(selector); ok {
		return s.selectTrue(c, out)
	}
	v, err := n.eval(c)
	if err != nil {
		return err
	}
	trueBits(v, out, c.n)
	return nil
}

// trueBits writes v's TRUE rows (value and valid) into out.
func trueBits(v *vec, out []byte, n int) {
	nb := (n + 7) / 8
	if v.scalar {
		fill := byte(0)
		if !v.isNull() && v.b[0]&1 != 0 {
			fill = 0xFF
		}
		fillBits(out, fill, nb)
		return
	}
	if v.valid == nil {
		copy(out, v.b[:nb])
		return
	}
	andBits(out, v.b, v.valid, nb)
}

// toArray builds the Arrow array of n rows of v.
func toArray(mem memory.Allocator, t Type, v *vec, n int) arrow.Array {
	if t == Null {
		return array.NewNull(n)
	}
	if v.scalar {
		return broadcast(mem, t, v, n)
	}
	var validBuf *memory.Buffer
	nulls := 0
	if v.valid != nil {
		nulls = n - countBits(v.valid, n)
		if nulls > 0 {
			validBuf = memory.NewResizableBuffer(mem)
			validBuf.Resize((n + 7) / 8)
			copy(validBuf.Bytes(), v.valid[:(n+7)/8])
		}
	}
	var bufs []*memory.Buffer
	switch t {
	case Int, Timestamp, Duration:
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(n * 8)
		copy(arrow.Int64Traits.CastFromBytes(buf.Bytes()), v.i[:n])
		bufs = []*memory.Buffer{validBuf, buf}
	case Float:
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(n * 8)
		copy(arrow.Float64Traits.CastFromBytes(buf.Bytes()), v.f[:n])
		bufs = []*memory.Buffer{validBuf, buf}
	case Bool:
		buf := memory.NewResizableBuffer(mem)
		buf.Resize((n + 7) / 8)
		copy(buf.Bytes(), v.b[:(n+7)/8])
		bufs = []*memory.Buffer{validBuf, buf}
	case String:
		offs := memory.NewResizableBuffer(mem)
		offs.Resize((n + 1) * 4)
		o := arrow.Int32Traits.CastFromBytes(offs.Bytes())
		base := v.off[0]
		for k := 0; k <= n; k++ {
			o[k] = v.off[k] - base
		}
		data := memory.NewResizableBuffer(mem)
		data.Resize(int(v.off[n] - base))
		copy(data.Bytes(), v.data[base:v.off[n]])
		bufs = []*memory.Buffer{validBuf, offs, data}
	}
	d := array.NewData(t.Arrow(), n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer d.Release()
	return array.MakeFromData(d)
}

// broadcast builds an array of n copies of scalar v.
func broadcast(mem memory.Allocator, t Type, v *vec, n int) arrow.Array {
	if v.isNull() {
		b := array.NewBuilder(mem, t.Arrow())
		defer b.Release()
		b.AppendNulls(n)
		return b.NewArray()
	}
	switch t {
	case Int, Timestamp, Duration:
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(n * 8)
		vs := arrow.Int64Traits.CastFromBytes(buf.Bytes())
		for k := range vs {
			vs[k] = v.i[0]
		}
		return fromBufs(t, n, buf)
	case Float:
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(n * 8)
		vs := arrow.Float64Traits.CastFromBytes(buf.Bytes())
		for k := range vs {
			vs[k] = v.f[0]
		}
		return fromBufs(t, n, buf)
	case Bool:
		buf := memory.NewResizableBuffer(mem)
		buf.Resize((n + 7) / 8)
		fill := byte(0)
		if v.b[0]&1 != 0 {
			fill = 0xFF
		}
		fillBits(buf.Bytes(), fill, (n+7)/8)
		return fromBufs(t, n, buf)
	default: // String
		s := v.str(0)
		offs := memory.NewResizableBuffer(mem)
		offs.Resize((n + 1) * 4)
		o := arrow.Int32Traits.CastFromBytes(offs.Bytes())
		data := memory.NewResizableBuffer(mem)
		data.Resize(n * len(s))
		db := data.Bytes()
		for k := 0; k < n; k++ {
			o[k] = int32(k * len(s))
			copy(db[k*len(s):], s)
		}
		o[n] = int32(n * len(s))
		return fromBufs(t, n, offs, data)
	}
}

func fromBufs(t Type, n int, bufs ...*memory.Buffer) arrow.Array {
	all := append([]*memory.Buffer{nil}, bufs...)
	d := array.NewData(t.Arrow(), n, all, nil, 0, 0)
	for _, b := range bufs {
		b.Release()
	}
	defer d.Release()
	return array.MakeFromData(d)
}
