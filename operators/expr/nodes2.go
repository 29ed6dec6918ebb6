package expr

import (
	"bytes"
	"math"
	"strconv"

	"github.com/conveyor-etl/conveyor/batch"
)

// castNode converts between types. Conversions that can fail (a string
// that does not parse, a float out of the int range, NaN) give null, like
// SQL's TRY_CAST.
type castNode struct {
	x        node
	from, to Type
	out      vec
	buf      bufs
	tp       batch.TimestampParser
}

func (n *castNode) typ() Type    { return n.to }
func (n *castNode) kids() []node { return []node{n.x} }

func (n *castNode) eval(c *ctx) (*vec, error) {
	a, err := n.x.eval(c)
	if err != nil {
		return nil, err
	}
	if a.isNull() || n.from == Null {
		return nullVec, nil
	}
	if n.from == n.to {
		return a, nil
	}
	rows, scalar := rowsFor(c, a)
	o := &n.out
	*o = vec{scalar: scalar, valid: a.valid}
	b := &n.buf
	// fail marks row k null.
	fail := func(k int) {
		o.valid = ownValid(&b.valid, o.valid, rows)
		clearBit(o.valid, k)
	}
	intLike := func(t Type) bool { return t == Int || t == Timestamp || t == Duration }
	switch {
	case intLike(n.from) && intLike(n.to):
		o.i = a.i
	case intLike(n.from) && n.to == Float:
		b.f = growFloats(b.f, rows)
		dst, src := b.f[:rows], a.i[:rows]
		for k, v := range src {
			dst[k] = float64(v)
		}
		o.f = dst
	case n.from == Float && intLike(n.to):
		b.i = growInts(b.i, rows)
		for k, v := range a.f[:rows] {
			if v != v || v >= 9223372036854775808.0 || v < -9223372036854775808.0 {
				b.i[k] = 0
				if a.validAt(k) {
					fail(k)
				}
				continue
			}
			b.i[k] = int64(v)
		}
		o.i = b.i
	case n.from == Bool && (intLike(n.to) || n.to == Float):
		if n.to == Float {
			b.f = growFloats(b.f, rows)
			for k := 0; k < rows; k++ {
				b.f[k] = float64(b2u(getBit(a.b, k)))
			}
			o.f = b.f
		} else {
			b.i = growInts(b.i, rows)
			for k := 0; k < rows; k++ {
				b.i[k] = int64(b2u(getBit(a.b, k)))
			}
			o.i = b.i
		}
	case n.to == Bool && n.from != String:
		b.b = growBytes(b.b, bitmapBytes(rows))
		fillBits(b.b, 0, bitmapBytes(rows))
		for k := 0; k < rows; k++ {
			var nz bool
			if n.from == Float {
				nz = a.f[k] != 0
			} else {
				nz = a.i[k] != 0
			}
			if nz {
				setBit(b.b, k)
			}
		}
		o.b = b.b
	case n.to == String:
		b.off = growInt32s(b.off, rows+1)
		b.data = b.data[:0]
		b.off[0] = 0
		for k := 0; k < rows; k++ {
			if a.validAt(k) {
				switch n.from {
				case Int:
					b.data = strconv.AppendInt(b.data, a.i[k], 10)
				case Float:
					b.data = appendFloatText(b.data, a.f[k])
				case Bool:
					b.data = strconv.AppendBool(b.data, getBit(a.b, k))
				case Timestamp:
					b.data = batch.AppendTimestamp(b.data, a.i[k])
				case Duration:
					b.data = append(b.data, formatDuration(a.i[k])...)
				}
			}
			b.off[k+1] = int32(len(b.data))
		}
		o.off, o.data = b.off, b.data
	case n.from == String:
		n.fromString(a, rows, fail)
	}
	return o, nil
}

// appendFloatText formats f the shortest way that reads back exactly.
func appendFloatText(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f != f:
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func (n *castNode) fromString(a *vec, rows int, fail func(int)) {
	o, b := &n.out, &n.buf
	switch n.to {
	case Int, Float, Timestamp, Duration:
		b.i = growInts(b.i, rows)
		b.f = growFloats(b.f, rows)
		for k := 0; k < rows; k++ {
			if !a.validAt(k) {
				b.i[k], b.f[k] = 0, 0
				continue
			}
			s := bytes.TrimSpace(a.str(k))
			ok := false
			switch n.to {
			case Int:
				b.i[k], ok = batch.ParseInt(s)
			case Float:
				b.f[k], ok = parseFloatText(s)
			case Timestamp:
				b.i[k], ok = n.tp.Parse(s)
			case Duration:
				b.i[k], ok = parseInterval(string(s))
			}
			if !ok {
				fail(k)
			}
		}
		if n.to == Float {
			o.f = b.f
		} else {
			o.i = b.i
		}
	case Bool:
		b.b = growBytes(b.b, bitmapBytes(rows))
		fillBits(b.b, 0, bitmapBytes(rows))
		for k := 0; k < rows; k++ {
			if !a.validAt(k) {
				continue
			}
			v, ok := batch.ParseBool(bytes.TrimSpace(a.str(k)))
			if !ok {
				fail(k)
			} else if v {
				setBit(b.b, k)
			}
		}
		o.b = b.b
	}
}

func parseFloatText(s []byte) (float64, bool) {
	switch string(bytes.ToLower(s)) {
	case "inf", "+inf", "infinity":
		return math.Inf(1), true
	case "-inf", "-infinity":
		return math.Inf(-1), true
	case "nan":
		return math.NaN(), true
	}
	return batch.ParseFloat(s)
}

// caseNode picks, row by row, the value of the first arm whose condition
// is TRUE (null conditions are not true), else els (null when nil). All
// arms are evaluated over the whole batch, then gathered.
type caseNode struct {
	t     Type
	conds []node // nil for coalesce: arm k is taken where vals[k] is not null
	vals  []node
	els   node
	out   vec
	buf   bufs
	rem   []byte // rows not yet decided
	sel   []byte
	vs    []*vec
	coal  bool
}

func (n *caseNode) typ() Type { return n.t }
func (n *caseNode) kids() []node {
	ks := append(append([]node{}, n.conds...), n.vals...)
	if n.els != nil {
		ks = append(ks, n.els)
	}
	return ks
}

func (n *caseNode) eval(c *ctx) (*vec, error) {
	vals := n.vs[:0]
	allScalar := true
	for _, v := range n.vals {
		x, err := v.eval(c)
		if err != nil {
			return nil, err
		}
		vals = append(vals, x)
		allScalar = allScalar && x.scalar
	}
	els := nullVec
	if n.els != nil {
		x, err := n.els.eval(c)
		if err != nil {
			return nil, err
		}
		els = x
		allScalar = allScalar && x.scalar
	}
	n.vs = vals
	rows := c.n
	if allScalar {
		scalarConds := true
		for _, cn := range n.conds {
			if _, ok := cn.(*constNode); !ok {
				scalarConds = false
			}
		}
		if scalarConds {
			rows = 1
		}
	}
	nb := (rows + 7) / 8
	n.rem = growBytes(n.rem, bitmapBytes(rows))
	fillBits(n.rem, 0xFF, len(n.rem))
	n.sel = growBytes(n.sel, bitmapBytes(rows))
	n.buf.idx = growInt32s(n.buf.idx, rows)
	idx := n.buf.idx
	for k := range idx {
		idx[k] = -1
	}
	condScalar := true
	for k := range vals {
		if n.coal {
			trueValid(vals[k], n.sel, rows)
			condScalar = condScalar && vals[k].scalar
		} else {
			cv, err := n.conds[k].eval(c)
			if err != nil {
				return nil, err
			}
			condScalar = condScalar && cv.scalar
			trueBits(cv, n.sel, rows)
		}
		andBits(n.sel, n.sel, n.rem, nb)
		andNotBits(n.rem, n.rem, n.sel, nb)
		for w := 0; w < nb; w++ {
			s := n.sel[w]
			for s != 0 {
				j := w*8 + bitsTrailing(s)
				if j < rows {
					idx[j] = int32(k)
				}
				s &= s - 1
			}
		}
	}
	return n.gather(vals, els, idx, rows, rows == 1 && allScalar && condScalar), nil
}

func bitsTrailing(b byte) int {
	for k := 0; k < 8; k++ {
		if b>>k&1 != 0 {
			return k
		}
	}
	return 8
}

// trueValid writes v's validity (a row is "taken" when not null).
func trueValid(v *vec, out []byte, n int) {
	nb := (n + 7) / 8
	switch {
	case v.scalar:
		fillBits(out, -b2u(!v.isNull()), nb)
	case v.valid == nil:
		fillBits(out, 0xFF, nb)
	default:
		copy(out, v.valid[:nb])
	}
}

// gather builds the result: row k takes vals[idx[k]], or els when idx[k]
// is -1.
func (n *caseNode) gather(vals []*vec, els *vec, idx []int32, rows int, scalar bool) *vec {
	o, b := &n.out, &n.buf
	*o = vec{scalar: scalar}
	src := func(k int) *vec {
		if j := idx[k]; j >= 0 {
			return vals[j]
		}
		return els
	}
	b.valid = growBytes(b.valid, bitmapBytes(rows))
	fillBits(b.valid, 0, len(b.valid))
	hasNull := false
	for k := 0; k < rows; k++ {
		if src(k).validAt(k) {
			setBit(b.valid, k)
		} else {
			hasNull = true
		}
	}
	if hasNull {
		o.valid = b.valid
	}
	switch n.t {
	case Int, Timestamp, Duration:
		b.i = growInts(b.i, rows)
		for k := 0; k < rows; k++ {
			b.i[k] = src(k).intAt(k)
		}
		o.i = b.i
	case Float:
		b.f = growFloats(b.f, rows)
		for k := 0; k < rows; k++ {
			b.f[k] = src(k).floatAt(k)
		}
		o.f = b.f
	case Bool:
		b.b = growBytes(b.b, bitmapBytes(rows))
		fillBits(b.b, 0, len(b.b))
		for k := 0; k < rows; k++ {
			if src(k).boolAt(k) {
				setBit(b.b, k)
			}
		}
		o.b = b.b
	case String:
		b.off = growInt32s(b.off, rows+1)
		b.data = b.data[:0]
		b.off[0] = 0
		for k := 0; k < rows; k++ {
			if s := src(k); s.validAt(k) {
				b.data = append(b.data, s.str(k)...)
			}
			b.off[k+1] = int32(len(b.data))
		}
		o.off, o.data = b.off, b.data
	case Null:
		return nullVec
	}
	return o
}

// inNode is "x [not] in (constants)" with SQL semantics: null when x is
// null, or when x is not found and the list holds a null.
type inNode struct {
	x       node
	t       Type
	not     bool
	hasNull bool
	ints    []int64
	intSet  map[int64]struct{}
	floats  []float64
	fset    map[float64]struct{}
	strs    []string
	strSet  map[string]struct{}
	short   []shortStr // the strings as words, when all are short
	bools   [2]bool    // bools[0]: false is in the list, bools[1]: true
	out     vec
	buf     bufs
}

const smallSet = 8

func newInNode(x node, t Type, elems []node, not bool) *inNode {
	n := &inNode{x: x, t: t, not: not}
	for _, e := range elems {
		v := &e.(*constNode).v
		if v.isNull() {
			n.hasNull = true
			continue
		}
		switch t {
		case Float:
			n.floats = append(n.floats, v.f[0])
		case String:
			n.strs = append(n.strs, string(v.str(0)))
		case Bool:
			n.bools[v.b[0]&1] = true
		default:
			n.ints = append(n.ints, v.i[0])
		}
	}
	if len(n.ints) > smallSet {
		n.intSet = map[int64]struct{}{}
		for _, v := range n.ints {
			n.intSet[v] = struct{}{}
		}
	}
	if len(n.floats) > smallSet {
		n.fset = map[float64]struct{}{}
		for _, v := range n.floats {
			n.fset[v] = struct{}{}
		}
	}
	if len(n.strs) <= smallSet {
		for _, v := range n.strs {
			sc, ok := makeShort(v)
			if !ok {
				n.short = nil
				break
			}
			n.short = append(n.short, sc)
		}
	}
	if len(n.strs) > smallSet {
		n.strSet = map[string]struct{}{}
		for _, v := range n.strs {
			n.strSet[v] = struct{}{}
		}
	}
	return n
}

func (n *inNode) typ() Type    { return Bool }
func (n *inNode) kids() []node { return []node{n.x} }

// found writes bit k of out = x[k] is in the list (ignoring nulls).
func (n *inNode) found(a *vec, out []byte, rows int) {
	var w byte
	put := func(k int, hit bool) {
		w |= b2u(hit) << (k & 7)
		if k&7 == 7 {
			out[k>>3] = w
			w = 0
		}
	}
	switch n.t {
	case Float:
		for k, v := range a.f[:rows] {
			hit := false
			if n.fset != nil {
				_, hit = n.fset[v]
			} else {
				for _, s := range n.floats {
					hit = hit || v == s
				}
			}
			put(k, hit)
		}
	case String:
		off, data := a.off, a.data
		if n.short != nil {
			inShortBits(off, data, n.short, n.strs, out, rows)
			return
		}
		for k := 0; k < rows; k++ {
			s := data[off[k]:off[k+1]]
			hit := false
			if n.strSet != nil {
				_, hit = n.strSet[string(s)]
			} else {
				for _, c := range n.strs {
					if len(c) == len(s) && string(s) == c {
						hit = true
						break
					}
				}
			}
			put(k, hit)
		}
	case Bool:
		for k := 0; k < rows; k++ {
			put(k, n.bools[b2u(getBit(a.b, k))])
		}
	default:
		vs := a.i[:rows]
		switch {
		case n.intSet != nil:
			for k, v := range vs {
				_, hit := n.intSet[v]
				put(k, hit)
			}
		case len(n.ints) == 1:
			cmpNumVS(opEq, vs, n.ints[0], out, rows)
			return
		default:
			for k, v := range vs {
				hit := false
				for _, s := range n.ints {
					hit = hit || v == s
				}
				put(k, hit)
			}
		}
	}
	if rows&7 != 0 {
		out[rows>>3] = w
	}
}

func (n *inNode) eval(c *ctx) (*vec, error) {
	a, err := n.x.eval(c)
	if err != nil || a.isNull() {
		return nullVec, err
	}
	rows, scalar := rowsFor(c, a)
	nb := bitmapBytes(rows)
	b := &n.buf
	b.b = growBytes(b.b, nb)
	n.found(a, b.b, rows)
	o := &n.out
	*o = vec{scalar: scalar, b: b.b, valid: a.valid}
	if n.hasNull { // not found: null
		b.valid = growBytes(b.valid, nb)
		if a.valid == nil {
			copy(b.valid, b.b[:nb])
		} else {
			andBits(b.valid, b.b, a.valid, nb)
		}
		o.valid = b.valid
	}
	if n.not {
		notBits(b.b, b.b, nb)
	}
	return o, nil
}

func (n *inNode) selectTrue(c *ctx, out []byte) error {
	a, err := n.x.eval(c)
	if err != nil {
		return err
	}
	if a.scalar || (n.not && n.hasNull) {
		v, err := n.eval(c)
		if err != nil {
			return err
		}
		trueBits(v, out, c.n)
		return nil
	}
	n.found(a, out, c.n)
	if n.not {
		notBits(out, out, len(out))
	}
	if a.valid != nil {
		andBits(out, out, a.valid, len(out))
	}
	return nil
}
