package expr

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// Compile parses src and type-checks it against schema, returning a
// vectorized program. Errors are *SyntaxError, *TypeError or
// *UnknownColumnError.
func Compile(src string, schema *arrow.Schema, opts ...Option) (*Program, error) {
	e, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return CompileExpr(e, schema, opts...)
}

// CompileExpr type-checks a parsed expression against schema.
func CompileExpr(e *Expr, schema *arrow.Schema, opts ...Option) (*Program, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if schema == nil {
		schema = arrow.NewSchema(nil, nil)
	}
	cp := &compiler{src: e.Src, schema: schema, cols: map[string]*colNode{}}
	root, err := cp.compile(e.Root)
	if err != nil {
		return nil, err
	}
	return &Program{expr: e, root: root, t: root.typ(), schema: schema, cols: cp.list, opts: o}, nil
}

// Check type-checks src against schema without keeping the program; it
// returns the result type.
func Check(src string, schema *arrow.Schema) (arrow.DataType, error) {
	p, err := Compile(src, schema)
	if err != nil {
		return nil, err
	}
	return p.Type(), nil
}

type compiler struct {
	src    string
	schema *arrow.Schema
	cols   map[string]*colNode
	list   []*colNode
}

func (cp *compiler) errf(at Node, format string, args ...any) error {
	return newTypeError(cp.src, at.Position(), format, args...)
}

func (cp *compiler) compile(n Node) (node, error) {
	switch n := n.(type) {
	case *Literal:
		return literalNode(n), nil
	case *ColumnRef:
		return cp.column(n)
	case *Unary:
		x, err := cp.compile(n.X)
		if err != nil {
			return nil, err
		}
		if n.Op == "not" {
			return cp.not(n.X, x)
		}
		switch x.typ() {
		case Null:
			return constNull(Null), nil
		case Int, Float, Duration:
			return cp.fold(&negNode{x: x}), nil
		}
		return nil, cp.errf(n, "cannot negate %s", x.typ())
	case *Binary:
		l, err := cp.compile(n.L)
		if err != nil {
			return nil, err
		}
		r, err := cp.compile(n.R)
		if err != nil {
			return nil, err
		}
		switch n.Op {
		case "and", "or":
			return cp.logic(n, n.Op == "or", l, r)
		case "+", "-", "*", "/", "%":
			return cp.arith(n, n.Op, l, r)
		}
		return cp.compare(n, cmpOpNames[n.Op], l, r, n.L, n.R)
	case *IsNull:
		x, err := cp.compile(n.X)
		if err != nil {
			return nil, err
		}
		return cp.fold(&isNullNode{x: x, not: n.Not}), nil
	case *In:
		return cp.in(n)
	case *Between:
		return cp.between(n)
	case *Like:
		return cp.like(n)
	case *Case:
		return cp.caseExpr(n)
	case *Call:
		return cp.call(n)
	}
	return nil, fmt.Errorf("expr: unknown node %T", n)
}

func literalNode(n *Literal) *constNode {
	switch n.Kind {
	case LitBool:
		return constBool(n.Bool)
	case LitInt:
		return constInt(Int, n.Int)
	case LitFloat:
		return constFloat(n.Float)
	case LitString:
		return constString(n.Str)
	case LitDuration:
		return constInt(Duration, n.Int)
	case LitTimestamp:
		return constInt(Timestamp, n.Int)
	}
	return constNull(Null)
}

func (cp *compiler) column(n *ColumnRef) (node, error) {
	if c, ok := cp.cols[n.Name]; ok {
		return c, nil
	}
	idx := cp.schema.FieldIndices(n.Name)
	if len(idx) == 0 {
		names := make([]string, cp.schema.NumFields())
		for k, f := range cp.schema.Fields() {
			names[k] = f.Name
		}
		line, col := position(cp.src, n.Pos)
		return nil, &UnknownColumnError{Column: n.Name, Suggestion: flow.Nearest(n.Name, names), Available: names,
			Src: cp.src, Pos: n.Pos, Line: line, Col: col}
	}
	f := cp.schema.Field(idx[0])
	t, ok := columnType(f.Type)
	if !ok {
		return nil, cp.errf(n, "column %q has type %s, which expressions do not support", n.Name, f.Type)
	}
	c := &colNode{name: n.Name, slot: len(cp.list), field: idx[0], t: t, dt: f.Type}
	cp.cols[n.Name] = c
	cp.list = append(cp.list, c)
	return c, nil
}

// fold evaluates n at compile time when all its inputs are constants.
func (cp *compiler) fold(n node) node {
	ks := n.kids()
	if len(ks) == 0 {
		return n
	}
	for _, k := range ks {
		if !isConst(k) {
			return n
		}
	}
	v, err := n.eval(&ctx{n: 1})
	if err != nil || !v.scalar {
		return n
	}
	return &constNode{t: n.typ(), v: *v}
}

func (cp *compiler) not(at Node, x node) (node, error) {
	switch x.typ() {
	case Null:
		return constNull(Bool), nil
	case Bool:
	default:
		return nil, cp.errf(at, "not needs a bool operand, got %s", x.typ())
	}
	switch x := x.(type) {
	case *cmpNode:
		if x.t != Float { // not (a < b) is a >= b, nulls alike (floats: NaN differs)
			return cp.fold(&cmpNode{op: x.op.negate(), t: x.t, l: x.l, r: x.r}), nil
		}
	case *isNullNode:
		return &isNullNode{x: x.x, not: !x.not}, nil
	case *inNode:
		y := *x
		y.not = !x.not
		return &y, nil
	}
	return cp.fold(&notNode{x: x}), nil
}

func (cp *compiler) logic(at *Binary, or bool, l, r node) (node, error) {
	for k, x := range []node{l, r} {
		if t := x.typ(); t != Bool && t != Null {
			side := at.L
			if k == 1 {
				side = at.R
			}
			return nil, cp.errf(side, "%s needs bool operands, got %s", at.Op, t)
		}
	}
	l, r = cp.coerceNull(l, Bool), cp.coerceNull(r, Bool)
	// x and true = x, x or false = x; x and false = false, x or true = true.
	for _, p := range [][2]node{{l, r}, {r, l}} {
		if c, ok := p[1].(*constNode); ok && !c.v.isNull() {
			v := c.v.b[0]&1 != 0
			if v == or {
				return constBool(or), nil
			}
			return p[0], nil
		}
	}
	return cp.fold(&boolNode{or: or, l: l, r: r}), nil
}

// coerceNull gives a Null-typed node type t.
func (cp *compiler) coerceNull(n node, t Type) node {
	if n.typ() != Null || t == Null {
		return n
	}
	if isConst(n) {
		return constNull(t)
	}
	return &castNode{x: n, from: Null, to: t}
}

// cmpType is the type two operands are compared as.
func cmpType(a, b Type) (Type, bool) {
	switch {
	case a == b:
		return a, true
	case a == Null:
		return b, true
	case b == Null:
		return a, true
	case isNumeric(a) && isNumeric(b):
		return Float, true
	case a == Timestamp && b == String, a == String && b == Timestamp:
		return Timestamp, true
	case a == Duration && b == String, a == String && b == Duration:
		return Duration, true
	}
	return Null, false
}

// coerce converts n (of the AST node at) to type t for a comparison or a
// common result type. Strings convert to timestamps and durations only as
// constants (parsed now).
func (cp *compiler) coerce(n node, at Node, t Type) (node, error) {
	from := n.typ()
	switch {
	case from == t:
		return n, nil
	case from == Null:
		return cp.coerceNull(n, t), nil
	case from == Int && t == Float:
		return cp.fold(&castNode{x: n, from: Int, to: Float}), nil
	case from == String && (t == Timestamp || t == Duration):
		c, ok := n.(*constNode)
		if !ok {
			return nil, cp.errf(at, "cannot compare %s with a string column (convert it with %s(x))", t, t)
		}
		s := strings.TrimSpace(unsafeString(c.v.str(0)))
		if t == Timestamp {
			us, ok := batch.ParseTimestamp([]byte(s))
			if !ok {
				return nil, cp.errf(at, "cannot parse %q as a timestamp (expected RFC 3339, e.g. '2024-01-01T00:00:00Z', or a date '2024-01-01')", s)
			}
			return constInt(Timestamp, us), nil
		}
		us, ok := parseInterval(s)
		if !ok {
			return nil, cp.errf(at, "cannot parse %q as a duration (e.g. '5m', '1h30m', '2 days')", s)
		}
		return constInt(Duration, us), nil
	}
	return nil, cp.errf(at, "cannot convert %s to %s", from, t)
}

func (cp *compiler) compare(at Node, op cmpOp, l, r node, ln, rn Node) (node, error) {
	t, ok := cmpType(l.typ(), r.typ())
	if !ok {
		return nil, cp.errf(at, "cannot compare %s with %s", l.typ(), r.typ())
	}
	if t == Null || l.typ() == Null || r.typ() == Null {
		return constNull(Bool), nil
	}
	var err error
	if l, err = cp.coerce(l, ln, t); err != nil {
		return nil, err
	}
	if r, err = cp.coerce(r, rn, t); err != nil {
		return nil, err
	}
	return cp.fold(&cmpNode{op: op, t: t, l: l, r: r}), nil
}

// arith type-checks an arithmetic operation. Rules: int op int is int
// (but / is float), any float makes float; timestamp - timestamp is a
// duration; timestamp ± duration is a timestamp; duration ± duration,
// duration * int and duration / int are durations; duration / duration is
// a float.
func (cp *compiler) arith(at *Binary, op string, l, r node) (node, error) {
	lt, rt := l.typ(), r.typ()
	// A null operand takes the type of the other side (a timestamp's
	// partner is a duration).
	partner := func(t Type) Type {
		if t == Timestamp {
			return Duration
		}
		return t
	}
	nullResult := false
	if lt == Null && rt == Null {
		return constNull(Null), nil
	}
	if lt == Null {
		lt, nullResult = partner(rt), true
	}
	if rt == Null {
		rt, nullResult = partner(lt), true
	}
	var res Type
	o := op[0]
	cast := Null // operand conversion
	float := false
	switch {
	case lt == Int && rt == Int:
		res = Int
		if o == '/' {
			res, cast, float = Float, Float, true
		}
	case isNumeric(lt) && isNumeric(rt):
		res, cast, float = Float, Float, true
	case lt == Timestamp && rt == Timestamp && o == '-':
		res = Duration
	case lt == Timestamp && rt == Duration && (o == '+' || o == '-'):
		res = Timestamp
	case lt == Duration && rt == Timestamp && o == '+':
		res = Timestamp
	case lt == Duration && rt == Duration && (o == '+' || o == '-' || o == '%'):
		res = Duration
	case lt == Duration && rt == Duration && o == '/':
		res, cast, float = Float, Float, true
	case lt == Duration && rt == Int && (o == '*' || o == '/'):
		res = Duration
		if o == '/' {
			o = 'q'
		}
	case lt == Int && rt == Duration && o == '*':
		res = Duration
	default:
		if lt == String && rt == String && o == '+' {
			return nil, cp.errf(at, "cannot apply + to string and string (use concat(a, b))")
		}
		return nil, cp.errf(at, "cannot apply %s to %s and %s", op, lt, rt)
	}
	if nullResult {
		return constNull(res), nil
	}
	if cast == Float {
		l = cp.fold(&castNode{x: l, from: l.typ(), to: Float})
		r = cp.fold(&castNode{x: r, from: r.typ(), to: Float})
	}
	return cp.fold(&arithNode{op: o, float: float, t: res, l: l, r: r}), nil
}

func (cp *compiler) between(n *Between) (node, error) {
	x, err := cp.compile(n.X)
	if err != nil {
		return nil, err
	}
	lo, err := cp.compile(n.Lo)
	if err != nil {
		return nil, err
	}
	hi, err := cp.compile(n.Hi)
	if err != nil {
		return nil, err
	}
	if _, ok := x.(*colNode); !ok && !isConst(x) {
		x = &memoNode{x: x}
	}
	// x between lo and hi == x >= lo and x <= hi;
	// x not between lo and hi == x < lo or x > hi.
	op1, op2 := opGe, opLe
	if n.Not {
		op1, op2 = opLt, opGt
	}
	a, err := cp.compare(n, op1, x, lo, n.X, n.Lo)
	if err != nil {
		return nil, err
	}
	b, err := cp.compare(n, op2, x, hi, n.X, n.Hi)
	if err != nil {
		return nil, err
	}
	return cp.logic(&Binary{Pos: n.Pos, Op: map[bool]string{false: "and", true: "or"}[n.Not], L: n, R: n}, n.Not, a, b)
}

// commonType is the type of a value chosen among several (case, coalesce,
// least...): nulls adopt the others' type, int and float make float.
func (cp *compiler) commonType(at Node, what string, ts ...Type) (Type, error) {
	res := Null
	for _, t := range ts {
		switch {
		case t == Null || t == res:
		case res == Null:
			res = t
		case isNumeric(res) && isNumeric(t):
			res = Float
		default:
			return Null, cp.errf(at, "%s mixes %s and %s", what, res, t)
		}
	}
	return res, nil
}

func (cp *compiler) caseExpr(n *Case) (node, error) {
	var operand node
	if n.Operand != nil {
		x, err := cp.compile(n.Operand)
		if err != nil {
			return nil, err
		}
		if _, ok := x.(*colNode); !ok && !isConst(x) {
			x = &memoNode{x: x}
		}
		operand = x
	}
	var conds, vals []node
	var types []Type
	for _, w := range n.Whens {
		c, err := cp.compile(w.Cond)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			if c, err = cp.compare(w.Cond, opEq, operand, c, n.Operand, w.Cond); err != nil {
				return nil, err
			}
		} else if t := c.typ(); t != Bool && t != Null {
			return nil, cp.errf(w.Cond, "case condition must be bool, got %s", t)
		}
		v, err := cp.compile(w.Then)
		if err != nil {
			return nil, err
		}
		conds, vals, types = append(conds, c), append(vals, v), append(types, v.typ())
	}
	var els node
	if n.Else != nil {
		e, err := cp.compile(n.Else)
		if err != nil {
			return nil, err
		}
		els, types = e, append(types, e.typ())
	}
	return cp.choose(n, "case", conds, vals, els, types)
}

// choose builds a case node after unifying the branch types.
func (cp *compiler) choose(at Node, what string, conds, vals []node, els node, types []Type) (node, error) {
	t, err := cp.commonType(at, what, types...)
	if err != nil {
		return nil, err
	}
	for k := range vals {
		if vals[k], err = cp.coerce(vals[k], at, t); err != nil {
			return nil, err
		}
	}
	if els != nil {
		if els, err = cp.coerce(els, at, t); err != nil {
			return nil, err
		}
	}
	// Drop arms whose condition is constant false/null; a constant true
	// arm ends the case.
	var cs, vs []node
	for k, c := range conds {
		if cc, ok := c.(*constNode); ok {
			if cc.v.isNull() || cc.v.b[0]&1 == 0 {
				continue
			}
			els = vals[k]
			break
		}
		cs, vs = append(cs, c), append(vs, vals[k])
	}
	if len(cs) == 0 {
		if els == nil {
			return constNull(t), nil
		}
		return els, nil
	}
	return &caseNode{t: t, conds: cs, vals: vs, els: els}, nil
}

// in compiles "x [not] in (list)". Constant lists become a set lookup;
// otherwise "x = a or x = b ...".
func (cp *compiler) in(n *In) (node, error) {
	x, err := cp.compile(n.X)
	if err != nil {
		return nil, err
	}
	elems := make([]node, len(n.List))
	allConst := true
	t := x.typ()
	for k, e := range n.List {
		if elems[k], err = cp.compile(e); err != nil {
			return nil, err
		}
		allConst = allConst && isConst(elems[k])
		nt, ok := cmpType(t, elems[k].typ())
		if !ok {
			return nil, cp.errf(e, "cannot compare %s with %s", x.typ(), elems[k].typ())
		}
		t = nt
	}
	if x.typ() == Null || t == Null {
		return constNull(Bool), nil
	}
	if x, err = cp.coerce(x, n.X, t); err != nil {
		return nil, err
	}
	for k := range elems {
		if elems[k], err = cp.coerce(elems[k], n.List[k], t); err != nil {
			return nil, err
		}
	}
	if !allConst {
		if _, ok := x.(*colNode); !ok && !isConst(x) {
			x = &memoNode{x: x}
		}
		var res node
		for _, e := range elems {
			c := cp.fold(&cmpNode{op: opEq, t: t, l: x, r: e})
			if res == nil {
				res = c
			} else if res, err = cp.logic(&Binary{Pos: n.Pos, Op: "or", L: n, R: n}, true, res, c); err != nil {
				return nil, err
			}
		}
		if n.Not {
			return cp.not(n, res)
		}
		return res, nil
	}
	in := newInNode(x, t, elems, n.Not)
	return cp.fold(in), nil
}

func (cp *compiler) like(n *Like) (node, error) {
	x, err := cp.compile(n.X)
	if err != nil {
		return nil, err
	}
	p, err := cp.compile(n.Pattern)
	if err != nil {
		return nil, err
	}
	if x.typ() != String && x.typ() != Null {
		return nil, cp.errf(n.X, "like needs a string operand, got %s", x.typ())
	}
	pc, ok := p.(*constNode)
	if !ok || p.typ() != String {
		if p.typ() == Null {
			return constNull(Bool), nil
		}
		return nil, cp.errf(n.Pattern, "the like pattern must be a string literal")
	}
	if x.typ() == Null {
		return constNull(Bool), nil
	}
	m := newLikeNode(x, string(pc.v.str(0)))
	var res node = cp.fold(m)
	if n.Not {
		return cp.not(n, res)
	}
	return res, nil
}

// checkArgs verifies the number of arguments of a call.
func (cp *compiler) checkArgs(n *Call, min, max int) error {
	if len(n.Args) < min || (max >= 0 && len(n.Args) > max) {
		switch {
		case min == max:
			return cp.errf(n, "%s takes %d argument%s, got %d", n.Name, min, plural(min), len(n.Args))
		case max < 0:
			return cp.errf(n, "%s takes at least %d argument%s, got %d", n.Name, min, plural(min), len(n.Args))
		}
		return cp.errf(n, "%s takes %d to %d arguments, got %d", n.Name, min, max, len(n.Args))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

var _ = math.MaxInt64
