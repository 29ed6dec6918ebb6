package expr

import (
	"math"
)

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq cmpOp = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
)

var cmpOpNames = map[string]cmpOp{"=": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

// flip returns the operator with its operands swapped: a < b == b > a.
func (o cmpOp) flip() cmpOp {
	switch o {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return o
}

// negate returns the complement: not (a < b) == a >= b (for non-NaN).
func (o cmpOp) negate() cmpOp {
	return [...]cmpOp{opEq: opNe, opNe: opEq, opLt: opGe, opLe: opGt, opGt: opLe, opGe: opLt}[o]
}

// constNode is a constant (a scalar vector).
type constNode struct {
	t Type
	v vec
}

func (n *constNode) typ() Type               { return n.t }
func (n *constNode) kids() []node            { return nil }
func (n *constNode) eval(*ctx) (*vec, error) { return &n.v, nil }

func constNull(t Type) *constNode { return &constNode{t: t, v: *nullVec} }
func constInt(t Type, v int64) *constNode {
	return &constNode{t: t, v: vec{scalar: true, i: []int64{v}}}
}
func constFloat(v float64) *constNode {
	return &constNode{t: Float, v: vec{scalar: true, f: []float64{v}}}
}
func constString(s string) *constNode {
	return &constNode{t: String, v: vec{scalar: true, off: []int32{0, int32(len(s))}, data: []byte(s)}}
}
func constBool(b bool) *constNode {
	return &constNode{t: Bool, v: vec{scalar: true, b: []byte{b2u(b)}}}
}

func isConst(n node) bool { _, ok := n.(*constNode); return ok }

// memoNode caches its child's vector for the batch (a subexpression used
// twice, e.g. by between or a simple case).
type memoNode struct {
	x   node
	gen uint64
	v   *vec
	err error
}

func (n *memoNode) typ() Type    { return n.x.typ() }
func (n *memoNode) kids() []node { return []node{n.x} }
func (n *memoNode) eval(c *ctx) (*vec, error) {
	if c.gen != n.gen || c.gen == 0 {
		n.gen = c.gen
		n.v, n.err = n.x.eval(c)
	}
	return n.v, n.err
}

// nowNode is now(): a timestamp scalar read once per batch.
type nowNode struct{ v vec }

func (n *nowNode) typ() Type    { return Timestamp }
func (n *nowNode) kids() []node { return nil }
func (n *nowNode) eval(c *ctx) (*vec, error) {
	if n.v.i == nil {
		n.v = vec{scalar: true, i: make([]int64, 1)}
	}
	n.v.i[0] = c.now()
	return &n.v, nil
}

// rows returns the number of rows to compute for args: 1 when all are
// scalars (the result is then a scalar).
func rowsFor(c *ctx, args ...*vec) (int, bool) {
	for _, a := range args {
		if !a.scalar {
			return c.n, false
		}
	}
	return 1, true
}

func anyNull(args ...*vec) bool {
	for _, a := range args {
		if a.isNull() {
			return true
		}
	}
	return false
}

// arithNode is a binary arithmetic operation over Int-like (Int,
// Timestamp, Duration: op + - * % q) or Float (+ - * / %) operands.
type arithNode struct {
	op    byte
	float bool
	t     Type
	l, r  node
	out   vec
	buf   bufs
}

func (n *arithNode) typ() Type    { return n.t }
func (n *arithNode) kids() []node { return []node{n.l, n.r} }

func (n *arithNode) eval(c *ctx) (*vec, error) {
	a, err := n.l.eval(c)
	if err != nil {
		return nil, err
	}
	b, err := n.r.eval(c)
	if err != nil {
		return nil, err
	}
	if anyNull(a, b) {
		return nullVec, nil
	}
	rows, scalar := rowsFor(c, a, b)
	o := &n.out
	*o = vec{scalar: scalar}
	valid := combineValid(&n.buf.valid, rows, a, b)
	var bad bool
	if n.float {
		n.buf.f = growFloats(n.buf.f, rows)
		d := n.buf.f
		switch {
		case scalar || (!a.scalar && !b.scalar):
			bad = floatArithVV(n.op, d, a.f, b.f, rows)
		case b.scalar:
			bad = floatArithVS(n.op, d, a.f, b.f[0], rows)
		default:
			bad = floatArithSV(n.op, d, a.f[0], b.f, rows)
		}
		o.f = d
		if bad { // division by zero: null
			valid = ownValid(&n.buf.valid, valid, rows)
			for k := 0; k < rows; k++ {
				if b.floatAt(k) == 0 {
					clearBit(valid, k)
				}
			}
		}
	} else {
		n.buf.i = growInts(n.buf.i, rows)
		d := n.buf.i
		switch {
		case scalar || (!a.scalar && !b.scalar):
			bad = intArithVV(n.op, d, a.i, b.i, rows)
		case b.scalar:
			bad = intArithVS(n.op, d, a.i, b.i[0], rows)
		default:
			bad = intArithSV(n.op, d, a.i[0], b.i, rows)
		}
		o.i = d
		if bad { // overflow or division by zero: null
			valid = ownValid(&n.buf.valid, valid, rows)
			for k := 0; k < rows; k++ {
				if _, ok := checkedInt(n.op, a.intAt(k), b.intAt(k)); !ok {
					clearBit(valid, k)
				}
			}
		}
	}
	o.valid = valid
	return o, nil
}

// checkedInt is the reference of the int kernels: ok is false on overflow
// and division by zero.
func checkedInt(op byte, x, y int64) (int64, bool) {
	switch op {
	case '+':
		s := x + y
		return s, (s^x)&(s^y) >= 0
	case '-':
		s := x - y
		return s, (x^y)&(x^s) >= 0
	case '*':
		if x == 0 || y == 0 {
			return 0, true
		}
		p := x * y
		if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
			return 0, false
		}
		return p, true
	case '%':
		if y == 0 {
			return 0, false
		}
		return x % y, true
	case 'q':
		if y == 0 || (y == -1 && x == math.MinInt64) {
			return 0, false
		}
		return x / y, true
	}
	return 0, false
}

// negNode is unary minus; -MinInt64 is null (overflow).
type negNode struct {
	x   node
	out vec
	buf bufs
}

func (n *negNode) typ() Type    { return n.x.typ() }
func (n *negNode) kids() []node { return []node{n.x} }
func (n *negNode) eval(c *ctx) (*vec, error) {
	a, err := n.x.eval(c)
	if err != nil || a.isNull() {
		return a, err
	}
	rows, scalar := rowsFor(c, a)
	o := &n.out
	*o = vec{scalar: scalar, valid: a.valid}
	if n.x.typ() == Float {
		n.buf.f = growFloats(n.buf.f, rows)
		for k, v := range a.f[:rows] {
			n.buf.f[k] = -v
		}
		o.f = n.buf.f
		return o, nil
	}
	n.buf.i = growInts(n.buf.i, rows)
	bad := false
	for k, v := range a.i[:rows] {
		n.buf.i[k] = -v
		bad = bad || v == math.MinInt64
	}
	o.i = n.buf.i
	if bad {
		o.valid = ownValid(&n.buf.valid, a.valid, rows)
		for k, v := range a.i[:rows] {
			if v == math.MinInt64 {
				clearBit(o.valid, k)
			}
		}
	}
	return o, nil
}

// cmpNode compares two operands of type t.
type cmpNode struct {
	op   cmpOp
	t    Type
	l, r node
	out  vec
	buf  bufs
}

func (n *cmpNode) typ() Type    { return Bool }
func (n *cmpNode) kids() []node { return []node{n.l, n.r} }

func (n *cmpNode) operands(c *ctx) (*vec, *vec, error) {
	a, err := n.l.eval(c)
	if err != nil {
		return nil, nil, err
	}
	b, err := n.r.eval(c)
	return a, b, err
}

func (n *cmpNode) eval(c *ctx) (*vec, error) {
	a, b, err := n.operands(c)
	if err != nil {
		return nil, err
	}
	if anyNull(a, b) {
		return nullVec, nil
	}
	rows, scalar := rowsFor(c, a, b)
	o := &n.out
	n.buf.b = growBytes(n.buf.b, bitmapBytes(rows))
	n.bits(a, b, n.buf.b, rows)
	*o = vec{scalar: scalar, b: n.buf.b, valid: combineValid(&n.buf.valid, rows, a, b)}
	return o, nil
}

func (n *cmpNode) selectTrue(c *ctx, out []byte) error {
	a, b, err := n.operands(c)
	if err != nil {
		return err
	}
	if anyNull(a, b) {
		fillBits(out, 0, len(out))
		return nil
	}
	if a.scalar && b.scalar {
		var one [8]byte
		n.bits(a, b, one[:], 1)
		fillBits(out, -(one[0] & 1), len(out))
		return nil
	}
	n.bits(a, b, out, c.n)
	if valid := combineValid(&n.buf.valid, c.n, a, b); valid != nil {
		andBits(out, out, valid, len(out))
	}
	return nil
}

// bits writes the comparison's value bits for rows rows into out.
func (n *cmpNode) bits(a, b *vec, out []byte, rows int) {
	op := n.op
	if a.scalar && !b.scalar {
		a, b, op = b, a, op.flip()
	}
	switch n.t {
	case Float:
		if b.scalar {
			cmpNumVS(op, a.f, b.f[0], out, rows)
		} else {
			cmpNumVV(op, a.f, b.f, out, rows)
		}
	case String:
		if b.scalar {
			c := unsafeString(b.str(0))
			if sc, ok := makeShort(c); ok && (op == opEq || op == opNe) {
				eqShortBits(a.off, a.data, c, sc, out, rows, op == opNe)
				return
			}
			cmpStrVS(op, a.off, a.data, c, out, rows)
		} else {
			cmpStrVV(op, a.off, a.data, b.off, b.data, out, rows)
		}
	case Bool:
		cmpBool(op, a, b, out, rows)
	default:
		if b.scalar {
			cmpNumVS(op, a.i, b.i[0], out, rows)
		} else {
			cmpNumVV(op, a.i, b.i, out, rows)
		}
	}
}

// cmpBool compares bool bitmaps (false < true).
func cmpBool(op cmpOp, a, b *vec, out []byte, rows int) {
	nb := (rows + 7) / 8
	for k := 0; k < nb; k++ {
		x := a.b[k]
		var y byte
		if b.scalar {
			y = -(b.b[0] & 1)
		} else {
			y = b.b[k]
		}
		var r byte
		switch op {
		case opEq:
			r = ^(x ^ y)
		case opNe:
			r = x ^ y
		case opLt:
			r = ^x & y
		case opLe:
			r = ^x | y
		case opGt:
			r = x &^ y
		case opGe:
			r = x | ^y
		}
		out[k] = r
	}
}

// boolNode is "and" / "or" with SQL three-valued logic.
type boolNode struct {
	or   bool
	l, r node
	out  vec
	buf  bufs
	tmp  []byte
	ones []byte
}

func (n *boolNode) typ() Type    { return Bool }
func (n *boolNode) kids() []node { return []node{n.l, n.r} }

// expand returns v's value and validity bitmaps for rows rows (scalars
// expanded into scratch).
func expand(v *vec, rows int, vals, valids *[]byte, ones []byte) (val, valid []byte) {
	nb := bitmapBytes(rows)
	if v.scalar {
		*vals = growBytes(*vals, nb)
		fillBits(*vals, -(v.b[0] & 1), nb)
		*valids = growBytes(*valids, nb)
		fillBits(*valids, -b2u(!v.isNull()), nb)
		return *vals, *valids
	}
	if v.valid == nil {
		return v.b, ones
	}
	return v.b, v.valid
}

func (n *boolNode) eval(c *ctx) (*vec, error) {
	a, err := n.l.eval(c)
	if err != nil {
		return nil, err
	}
	b, err := n.r.eval(c)
	if err != nil {
		return nil, err
	}
	rows, scalar := rowsFor(c, a, b)
	nb := bitmapBytes(rows)
	if len(n.ones) < nb {
		n.ones = growBytes(n.ones, nb)
		fillBits(n.ones, 0xFF, nb)
	}
	var s1, s2, s3, s4 []byte
	av, avalid := expand(a, rows, &s1, &s2, n.ones)
	bv, bvalid := expand(b, rows, &s3, &s4, n.ones)
	n.buf.b = growBytes(n.buf.b, nb)
	o := &n.out
	*o = vec{scalar: scalar, b: n.buf.b}
	if (a.scalar || a.valid == nil) && (b.scalar || b.valid == nil) && !a.isNull() && !b.isNull() {
		if n.or {
			orBits(n.buf.b, av, bv, (rows+7)/8)
		} else {
			andBits(n.buf.b, av, bv, (rows+7)/8)
		}
		return o, nil
	}
	n.buf.valid = growBytes(n.buf.valid, nb)
	val, valid := n.buf.b, n.buf.valid
	for k := 0; k+8 <= nb; k += 8 {
		x, xv, y, yv := load64(av[k:]), load64(avalid[k:]), load64(bv[k:]), load64(bvalid[k:])
		var t, f uint64
		if n.or {
			t = (x & xv) | (y & yv)
			f = (^x & xv) & (^y & yv)
		} else {
			t = (x & xv) & (y & yv)
			f = (^x & xv) | (^y & yv)
		}
		store64(val[k:], t)
		store64(valid[k:], t|f)
	}
	o.valid = valid
	return o, nil
}

func (n *boolNode) selectTrue(c *ctx, out []byte) error {
	if err := selectInto(c, n.l, out); err != nil {
		return err
	}
	if !n.or && !anyBits(out, c.n) {
		return nil // nothing can be true
	}
	n.tmp = growBytes(n.tmp, len(out))
	if err := selectInto(c, n.r, n.tmp); err != nil {
		return err
	}
	if n.or {
		orBits(out, out, n.tmp, len(out))
	} else {
		andBits(out, out, n.tmp, len(out))
	}
	return nil
}

// notNode is "not x": not null is null.
type notNode struct {
	x   node
	out vec
	buf bufs
}

func (n *notNode) typ() Type    { return Bool }
func (n *notNode) kids() []node { return []node{n.x} }
func (n *notNode) eval(c *ctx) (*vec, error) {
	a, err := n.x.eval(c)
	if err != nil || a.isNull() {
		return a, err
	}
	rows, scalar := rowsFor(c, a)
	nb := bitmapBytes(rows)
	n.buf.b = growBytes(n.buf.b, nb)
	notBits(n.buf.b, a.b, (rows+7)/8)
	n.out = vec{scalar: scalar, b: n.buf.b, valid: a.valid}
	return &n.out, nil
}

// isNullNode is "x is [not] null"; never null itself.
type isNullNode struct {
	x   node
	not bool
	out vec
	buf bufs
}

func (n *isNullNode) typ() Type    { return Bool }
func (n *isNullNode) kids() []node { return []node{n.x} }
func (n *isNullNode) eval(c *ctx) (*vec, error) {
	a, err := n.x.eval(c)
	if err != nil {
		return nil, err
	}
	if a.scalar {
		n.out = vec{scalar: true, b: []byte{b2u(a.isNull() != n.not)}}
		return &n.out, nil
	}
	nb := bitmapBytes(c.n)
	n.buf.b = growBytes(n.buf.b, nb)
	switch {
	case a.valid == nil:
		fillBits(n.buf.b, -b2u(n.not), nb)
	case n.not:
		copy(n.buf.b, a.valid[:(c.n+7)/8])
	default:
		notBits(n.buf.b, a.valid, (c.n+7)/8)
	}
	n.out = vec{b: n.buf.b}
	return &n.out, nil
}
