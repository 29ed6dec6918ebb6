package operators

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

const mapName = "map.apply"

// operand is one side of an arithmetic expression: a column or a numeric
// literal.
type operand struct {
	column string // "" for a literal
	isInt  bool   // literal is an integer (i), else a float (f)
	i      int64
	f      float64
}

func (o operand) String() string {
	switch {
	case o.column != "":
		return strconv.Quote(o.column)
	case o.isInt:
		return strconv.FormatInt(o.i, 10)
	}
	return strconv.FormatFloat(o.f, 'g', -1, 64)
}

// arith is the original map.apply expression: a single operand (a copy),
// or `left op right` with op one of + - * / %.
type arith struct {
	left, right operand
	op          byte // 0 for a single operand
}

// parseArith parses "<operand> [<op> <operand>]". Operands are column names
// (letters, digits, '_' and '.', not starting with a digit; any other name
// in double quotes or backquotes) or numeric literals, optionally signed.
func parseArith(src string) (arith, error) {
	p := &arithLexer{src: src}
	var a arith
	var err error
	if a.left, err = p.operand(); err != nil {
		return a, err
	}
	p.skipSpace()
	if p.pos == len(src) {
		return a, nil
	}
	switch c := src[p.pos]; c {
	case '+', '-', '*', '/', '%':
		a.op = c
		p.pos++
	default:
		return a, p.errorf("expected one of + - * / %% after %s", a.left)
	}
	if a.right, err = p.operand(); err != nil {
		return a, err
	}
	p.skipSpace()
	if p.pos != len(src) {
		return a, p.errorf("unexpected %q: the original form is one operation such as \"price * qty\" (use `columns` with the expression language for more)", src[p.pos:])
	}
	return a, nil
}

type arithLexer struct {
	src string
	pos int
}

func (p *arithLexer) errorf(format string, args ...any) error {
	return fmt.Errorf("%w %q at offset %d: %s", ErrInvalidExpression, p.src, p.pos, fmt.Sprintf(format, args...))
}

func (p *arithLexer) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *arithLexer) operand() (operand, error) {
	p.skipSpace()
	if p.pos == len(p.src) {
		return operand{}, p.errorf("expected a column name or a number")
	}
	start := p.pos
	c := p.src[p.pos]
	switch {
	case c == '"' || c == '`':
		end := strings.IndexByte(p.src[p.pos+1:], c)
		if end < 0 {
			return operand{}, p.errorf("unterminated quoted column name")
		}
		name := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		if name == "" {
			return operand{}, p.errorf("empty column name")
		}
		return operand{column: name}, nil
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		p.pos++
		for p.pos < len(p.src) {
			d := p.src[p.pos]
			if (d >= '0' && d <= '9') || d == '.' || d == 'e' || d == 'E' ||
				((d == '+' || d == '-') && (p.src[p.pos-1] == 'e' || p.src[p.pos-1] == 'E')) {
				p.pos++
				continue
			}
			break
		}
		lit := p.src[start:p.pos]
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return operand{isInt: true, i: i}, nil
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			p.pos = start
			return operand{}, p.errorf("%q is not a number", lit)
		}
		return operand{f: f}, nil
	case c == '_' || unicode.IsLetter(rune(c)) || c >= 0x80:
		for p.pos < len(p.src) {
			r := rune(p.src[p.pos])
			if r == '_' || r == '.' || r >= 0x80 || unicode.IsLetter(r) || unicode.IsDigit(r) {
				p.pos++
				continue
			}
			break
		}
		return operand{column: p.src[start:p.pos]}, nil
	}
	return operand{}, p.errorf("expected a column name or a number, got %q", string(c))
}

// projector computes one output column for a batch. The returned array is
// owned by the caller and has b.NumRows() rows.
type projector func(mem memory.Allocator, b arrow.RecordBatch) (arrow.Array, error)

// projectionBinder binds a computed column to a schema and returns its type.
// The original form (expression/output_column) is one binder; the expression
// language provides another.
type projectionBinder func(schema *arrow.Schema) (arrow.DataType, projector, error)

// mapOp is map.apply's Transformer. It is not safe for concurrent use.
type mapOp struct {
	output string
	bind   projectionBinder

	schema    *arrow.Schema // input schema the projection was bound to
	outSchema *arrow.Schema
	outIdx    int // index of the output column in outSchema
	replace   bool
	proj      projector
}

func newMap(cfg flow.Config, env flow.BuildEnv) (any, error) {
	if cfg.Has("columns") {
		return newExprMap(cfg, env)
	}
	a, err := parseArith(cfg.Str("expression"))
	if err != nil {
		return nil, fmt.Errorf("%s: expression: %w", mapName, err)
	}
	return &mapOp{output: cfg.Str("output_column"), bind: a.bind}, nil
}

// Transform returns a new batch holding in's columns (shared, not copied)
// plus the computed column, appended or, when a column of that name exists,
// put in its place. It borrows in.
func (m *mapOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if m.schema == nil || (m.schema != in.Schema() && !m.schema.Equal(in.Schema())) {
		if err := m.rebind(in.Schema()); err != nil {
			return nil, err
		}
	}
	arr, err := m.proj(st.Alloc, in)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	cols := make([]arrow.Array, 0, in.NumCols()+1)
	cols = append(cols, in.Columns()...)
	if m.replace {
		cols[m.outIdx] = arr
	} else {
		cols = append(cols, arr)
	}
	return array.NewRecordBatch(m.outSchema, cols, in.NumRows()), nil
}

func (m *mapOp) rebind(schema *arrow.Schema) error {
	dt, proj, err := m.bind(schema)
	if err != nil {
		return err
	}
	fields := append([]arrow.Field(nil), schema.Fields()...)
	f := arrow.Field{Name: m.output, Type: dt, Nullable: true}
	if idx := schema.FieldIndices(m.output); len(idx) > 0 {
		m.outIdx, m.replace = idx[0], true
		f.Metadata = fields[idx[0]].Metadata
		fields[idx[0]] = f
	} else {
		m.outIdx, m.replace = len(fields), false
		fields = append(fields, f)
	}
	meta := schema.Metadata()
	m.schema, m.outSchema, m.proj = schema, arrow.NewSchema(fields, &meta), proj
	return nil
}

// bound operand: a column index or a literal.
type boundOperand struct {
	operand
	idx       int  // -1 for a literal
	intValued bool // integer column or integer literal
}

func (a arith) bindOperand(schema *arrow.Schema, o operand, copyOnly bool) (boundOperand, arrow.DataType, error) {
	if o.column == "" {
		if o.isInt {
			return boundOperand{operand: o, idx: -1, intValued: true}, arrow.PrimitiveTypes.Int64, nil
		}
		return boundOperand{operand: o, idx: -1}, arrow.PrimitiveTypes.Float64, nil
	}
	idx, err := columnIndex(mapName, schema, o.column)
	if err != nil {
		return boundOperand{}, nil, err
	}
	dt := schema.Field(idx).Type
	if copyOnly {
		return boundOperand{operand: o, idx: idx}, dt, nil
	}
	switch {
	case arrow.IsInteger(dt.ID()):
		return boundOperand{operand: o, idx: idx, intValued: true}, dt, nil
	case arrow.IsFloating(dt.ID()) && dt.ID() != arrow.FLOAT16:
		return boundOperand{operand: o, idx: idx}, dt, nil
	}
	return boundOperand{}, nil, fmt.Errorf("%s: column %q is %s: %w: arithmetic needs a numeric column", mapName, o.column, dt, ErrTypeMismatch)
}

func (a arith) bind(schema *arrow.Schema) (arrow.DataType, projector, error) {
	l, ldt, err := a.bindOperand(schema, a.left, a.op == 0)
	if err != nil {
		return nil, nil, err
	}
	if a.op == 0 {
		if l.idx >= 0 {
			return ldt, func(mem memory.Allocator, b arrow.RecordBatch) (arrow.Array, error) {
				c := b.Column(l.idx)
				c.Retain()
				return c, nil
			}, nil
		}
		a.op, a.right = '+', operand{isInt: true} // literal + 0
	}
	r, _, err := a.bindOperand(schema, a.right, false)
	if err != nil {
		return nil, nil, err
	}
	op := a.op
	if l.intValued && r.intValued && op != '/' {
		return arrow.PrimitiveTypes.Int64, func(mem memory.Allocator, b arrow.RecordBatch) (arrow.Array, error) {
			n := int(b.NumRows())
			return evalInt(mem, op, n, intsOf(b, l, n), intsOf(b, r, n), nullables(b, l, r))
		}, nil
	}
	return arrow.PrimitiveTypes.Float64, func(mem memory.Allocator, b arrow.RecordBatch) (arrow.Array, error) {
		n := int(b.NumRows())
		nl := nullables(b, l, r)
		xi, xf := floatOperand(b, l, n)
		yi, yf := floatOperand(b, r, n)
		switch {
		case xi != nil && yi != nil:
			return evalFloat(mem, op, n, xi, yi, nl)
		case xi != nil:
			return evalFloat(mem, op, n, xi, yf, nl)
		case yi != nil:
			return evalFloat(mem, op, n, xf, yi, nl)
		}
		return evalFloat(mem, op, n, xf, yf, nl)
	}, nil
}

// nullables returns the operand columns that hold nulls.
func nullables(b arrow.RecordBatch, ops ...boundOperand) []arrow.Array {
	var out []arrow.Array
	for _, o := range ops {
		if o.idx >= 0 && b.Column(o.idx).NullN() > 0 {
			out = append(out, b.Column(o.idx))
		}
	}
	return out
}

// intsOf returns the operand's values as int64s: the column's own buffer
// for an int64 column, a converted copy for other integer columns, a
// broadcast literal otherwise.
func intsOf(b arrow.RecordBatch, o boundOperand, n int) []int64 {
	if o.idx < 0 {
		return broadcast(o.i, n)
	}
	arr := b.Column(o.idx)
	switch arr.DataType().ID() {
	case arrow.INT64:
		return arrow.GetValues[int64](arr.Data(), 1)
	case arrow.INT32:
		return widen[int32, int64](arr)
	case arrow.INT16:
		return widen[int16, int64](arr)
	case arrow.INT8:
		return widen[int8, int64](arr)
	case arrow.UINT64:
		return widen[uint64, int64](arr) // values above MaxInt64 wrap
	case arrow.UINT32:
		return widen[uint32, int64](arr)
	case arrow.UINT16:
		return widen[uint16, int64](arr)
	case arrow.UINT8:
		return widen[uint8, int64](arr)
	}
	panic("operators: intsOf on " + arr.DataType().String())
}

// floatOperand returns an operand for float arithmetic without copying
// int64 columns: exactly one of the results is non-nil.
func floatOperand(b arrow.RecordBatch, o boundOperand, n int) ([]int64, []float64) {
	if o.idx >= 0 && b.Column(o.idx).DataType().ID() == arrow.INT64 {
		return arrow.GetValues[int64](b.Column(o.idx).Data(), 1), nil
	}
	return nil, floatsOf(b, o, n)
}

// floatsOf is intsOf for float64.
func floatsOf(b arrow.RecordBatch, o boundOperand, n int) []float64 {
	if o.idx < 0 {
		if o.intValued {
			return broadcast(float64(o.i), n)
		}
		return broadcast(o.f, n)
	}
	arr := b.Column(o.idx)
	switch arr.DataType().ID() {
	case arrow.FLOAT64:
		return arrow.GetValues[float64](arr.Data(), 1)
	case arrow.FLOAT32:
		return widen[float32, float64](arr)
	case arrow.INT64:
		return widen[int64, float64](arr)
	case arrow.INT32:
		return widen[int32, float64](arr)
	case arrow.INT16:
		return widen[int16, float64](arr)
	case arrow.INT8:
		return widen[int8, float64](arr)
	case arrow.UINT64:
		return widen[uint64, float64](arr)
	case arrow.UINT32:
		return widen[uint32, float64](arr)
	case arrow.UINT16:
		return widen[uint16, float64](arr)
	case arrow.UINT8:
		return widen[uint8, float64](arr)
	}
	panic("operators: floatsOf on " + arr.DataType().String())
}

func widen[S arrow.IntType | arrow.UintType | float32 | float64, D int64 | float64](arr arrow.Array) []D {
	src := arrow.GetValues[S](arr.Data(), 1)
	out := make([]D, len(src))
	for i, v := range src {
		out[i] = D(v)
	}
	return out
}

func broadcast[T int64 | float64](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// newValues allocates an n-element value buffer of T from mem.
func newValues[T int64 | float64](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * 8)
	return buf, arrow.GetData[T](buf.Bytes())[:n]
}

// evalInt computes x op y over int64s. A row is null when an input is null,
// when the result overflows int64, or (for %) when y is 0.
func evalInt(mem memory.Allocator, op byte, n int, x, y []int64, nullable []arrow.Array) (arrow.Array, error) {
	buf, out := newValues[int64](mem, n)
	defer buf.Release()
	x, y = x[:n], y[:n]
	var ov int64 // sign bit set when some row overflowed
	var bad []int
	switch op {
	case '+':
		for i := range out {
			s := x[i] + y[i]
			ov |= (x[i] ^ s) & (y[i] ^ s)
			out[i] = s
		}
		if ov < 0 {
			for i := range out {
				if (x[i]^out[i])&(y[i]^out[i]) < 0 {
					bad = append(bad, i)
				}
			}
		}
	case '-':
		for i := range out {
			s := x[i] - y[i]
			ov |= (x[i] ^ y[i]) & (x[i] ^ s)
			out[i] = s
		}
		if ov < 0 {
			for i := range out {
				if (x[i]^y[i])&(x[i]^out[i]) < 0 {
					bad = append(bad, i)
				}
			}
		}
	case '*':
		for i := range out {
			ov |= mulOverflow(x[i], y[i])
			out[i] = x[i] * y[i]
		}
		if ov != 0 {
			for i := range out {
				if mulOverflow(x[i], y[i]) != 0 {
					bad = append(bad, i)
				}
			}
		}
	case '%':
		for i := range out {
			if y[i] == 0 {
				out[i] = 0
				bad = append(bad, i)
				continue
			}
			out[i] = x[i] % y[i]
		}
	default:
		return nil, fmt.Errorf("%w: operator %q", ErrInvalidExpression, op)
	}
	return finish(mem, arrow.PrimitiveTypes.Int64, n, buf, nullable, bad), nil
}

// mulOverflow is nonzero when x*y overflows int64: the high word of the
// 128-bit signed product differs from the sign extension of the low word.
func mulOverflow(x, y int64) int64 {
	hi, lo := bits.Mul64(uint64(x), uint64(y))
	shi := int64(hi) - (x>>63)&y - (y>>63)&x
	return shi ^ (int64(lo) >> 63)
}

// evalFloat computes x op y over float64s. A row is null when an input is
// null or, for / and %, when y is 0. Other results follow IEEE 754 (an
// overflow gives ±Inf).
// X and Y are int64 or float64, converted row by row, so that an int64
// column needs no converted copy.
func evalFloat[X, Y int64 | float64](mem memory.Allocator, op byte, n int, x []X, y []Y, nullable []arrow.Array) (arrow.Array, error) {
	buf, out := newValues[float64](mem, n)
	defer buf.Release()
	x, y = x[:n], y[:n]
	var zero byte
	switch op {
	case '+':
		for i := range out {
			out[i] = float64(x[i]) + float64(y[i])
		}
	case '-':
		for i := range out {
			out[i] = float64(x[i]) - float64(y[i])
		}
	case '*':
		for i := range out {
			out[i] = float64(x[i]) * float64(y[i])
		}
	case '/':
		for i := range out {
			zero |= b2u(y[i] == 0)
			out[i] = float64(x[i]) / float64(y[i])
		}
	case '%':
		for i := range out {
			zero |= b2u(y[i] == 0)
			out[i] = math.Mod(float64(x[i]), float64(y[i]))
		}
	default:
		return nil, fmt.Errorf("%w: operator %q", ErrInvalidExpression, op)
	}
	var bad []int
	if zero != 0 {
		for i := range y {
			if y[i] == 0 {
				out[i] = 0
				bad = append(bad, i)
			}
		}
	}
	return finish(mem, arrow.PrimitiveTypes.Float64, n, buf, nullable, bad), nil
}

// finish wraps a value buffer into an array whose validity is the AND of
// the nullable inputs' validity with the bad rows cleared.
func finish(mem memory.Allocator, dt arrow.DataType, n int, values *memory.Buffer, nullable []arrow.Array, bad []int) arrow.Array {
	var valid *memory.Buffer
	nulls := 0
	if len(nullable) > 0 || len(bad) > 0 {
		valid = memory.NewResizableBuffer(mem)
		defer valid.Release()
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		vb := valid.Bytes()
		bitutil.SetBitsTo(vb, 0, int64(n), true)
		for _, a := range nullable {
			andValidity(vb, a.NullBitmapBytes(), a.Data().Offset(), n)
		}
		for _, i := range bad {
			bitutil.ClearBit(vb, i)
		}
		nulls = n - bitutil.CountSetBits(vb, 0, n)
	}
	data := array.NewData(dt, n, []*memory.Buffer{valid, values}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// checkMap is map.apply's cross-parameter validation: exactly one of
// expression (with output_column) or columns, and an expression that
// parses.
func checkMap(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	add := func(key, format string, args ...any) {
		errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if cfg.Has("columns") {
		if cfg.Has("expression") || cfg.Has("output_column") {
			add("columns", "give either columns or expression/output_column, not both")
		}
		return errs
	}
	if !cfg.Has("expression") {
		add("expression", "required parameter of map.apply is missing (give expression and output_column, or columns)")
	}
	if !cfg.Has("output_column") {
		add("output_column", "required parameter of map.apply is missing (give expression and output_column, or columns)")
	} else if cfg.Str("output_column") == "" {
		add("output_column", "must not be empty")
	}
	if cfg.Has("expression") {
		if _, err := parseArith(cfg.Str("expression")); err != nil {
			add("expression", "%v", err)
		}
	}
	return errs
}
