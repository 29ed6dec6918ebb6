package expr

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/batch"
)

// Expr is a parsed expression: the root of its syntax tree and the source
// text it came from (positions in error messages refer to it).
type Expr struct {
	Root Node
	Src  string
}

// String renders the expression in canonical form: lower-case keywords and
// function names, single-quoted strings, parentheses only where precedence
// needs them. Parse(e.String()) yields an equivalent expression.
func (e *Expr) String() string {
	var sb strings.Builder
	writeNode(&sb, e.Root, 0)
	return sb.String()
}

// Columns returns the names of the columns the expression references, in
// order of first use, each once.
func (e *Expr) Columns() []string {
	var out []string
	seen := map[string]bool{}
	Walk(e.Root, func(n Node) {
		if c, ok := n.(*ColumnRef); ok && !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c.Name)
		}
	})
	return out
}

// Node is a node of the syntax tree. Position is the byte offset, in the
// source, of the token that best identifies the node (an operator, a
// function name, a literal's first byte).
type Node interface {
	Position() int
}

// LitKind is the kind of a literal.
type LitKind uint8

// Literal kinds.
const (
	LitNull LitKind = iota
	LitBool
	LitInt
	LitFloat
	LitString
	LitDuration  // Int holds microseconds
	LitTimestamp // Int holds microseconds since the Unix epoch, UTC
)

// Literal is a constant.
type Literal struct {
	Pos   int
	Kind  LitKind
	Int   int64
	Float float64
	Str   string
	Bool  bool
}

// ColumnRef references a column by its exact (case-sensitive) name.
type ColumnRef struct {
	Pos  int
	Name string
}

// Unary is "not X" (Op "not") or "-X" (Op "-").
type Unary struct {
	Pos int
	Op  string
	X   Node
}

// Binary is L Op R; Op is one of or, and, = != < <= > >=, + - * / %.
// Spellings are canonicalized: == is =, <> is !=, && is and, || is or.
type Binary struct {
	Pos  int
	Op   string
	L, R Node
}

// In is "X [not] in (List...)".
type In struct {
	Pos  int
	X    Node
	List []Node
	Not  bool
}

// Between is "X [not] between Lo and Hi".
type Between struct {
	Pos       int
	X, Lo, Hi Node
	Not       bool
}

// IsNull is "X is [not] null".
type IsNull struct {
	Pos int
	X   Node
	Not bool
}

// Like is "X [not] like Pattern" (% any run, _ one character).
type Like struct {
	Pos        int
	X, Pattern Node
	Not        bool
}

// Call is a function call; Name is lower-case.
type Call struct {
	Pos  int
	Name string
	Args []Node
}

// When is one "when Cond then Then" arm of a Case.
type When struct {
	Cond, Then Node
}

// Case is "case [Operand] when ... then ... [else Else] end". With an
// Operand, each When's Cond is a value compared for equality with it.
type Case struct {
	Pos     int
	Operand Node // nil for the searched form
	Whens   []When
	Else    Node // nil: null
}

func (n *Literal) Position() int   { return n.Pos }
func (n *ColumnRef) Position() int { return n.Pos }
func (n *Unary) Position() int     { return n.Pos }
func (n *Binary) Position() int    { return n.Pos }
func (n *In) Position() int        { return n.Pos }
func (n *Between) Position() int   { return n.Pos }
func (n *IsNull) Position() int    { return n.Pos }
func (n *Like) Position() int      { return n.Pos }
func (n *Call) Position() int      { return n.Pos }
func (n *Case) Position() int      { return n.Pos }

// Walk calls f for n and every node below it, parents first, left to right.
func Walk(n Node, f func(Node)) {
	if n == nil {
		return
	}
	f(n)
	switch n := n.(type) {
	case *Unary:
		Walk(n.X, f)
	case *Binary:
		Walk(n.L, f)
		Walk(n.R, f)
	case *In:
		Walk(n.X, f)
		for _, e := range n.List {
			Walk(e, f)
		}
	case *Between:
		Walk(n.X, f)
		Walk(n.Lo, f)
		Walk(n.Hi, f)
	case *IsNull:
		Walk(n.X, f)
	case *Like:
		Walk(n.X, f)
		Walk(n.Pattern, f)
	case *Call:
		for _, a := range n.Args {
			Walk(a, f)
		}
	case *Case:
		Walk(n.Operand, f)
		for _, w := range n.Whens {
			Walk(w.Cond, f)
			Walk(w.Then, f)
		}
		Walk(n.Else, f)
	}
}

// Precedence levels, lowest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precNeg
	precPrimary
)

func binaryPrec(op string) int {
	switch op {
	case "or":
		return precOr
	case "and":
		return precAnd
	case "+", "-":
		return precAdd
	case "*", "/", "%":
		return precMul
	}
	return precCmp
}

func nodePrec(n Node) int {
	switch n := n.(type) {
	case *Binary:
		return binaryPrec(n.Op)
	case *Unary:
		if n.Op == "not" {
			return precNot
		}
		return precNeg
	case *In, *Between, *IsNull, *Like:
		return precCmp
	case *Literal:
		// A negative number prints with a leading minus: it binds like
		// unary minus.
		if (n.Kind == LitInt && n.Int < 0) || (n.Kind == LitFloat && math.Signbit(n.Float)) || (n.Kind == LitDuration && n.Int < 0) {
			return precNeg
		}
	}
	return precPrimary
}

// writeNode writes n, parenthesized when its precedence is below min.
func writeNode(sb *strings.Builder, n Node, min int) {
	p := nodePrec(n)
	if p < min {
		sb.WriteByte('(')
		defer sb.WriteByte(')')
	}
	switch n := n.(type) {
	case *Literal:
		writeLiteral(sb, n)
	case *ColumnRef:
		writeColumn(sb, n.Name)
	case *Unary:
		if n.Op == "not" {
			sb.WriteString("not ")
			writeNode(sb, n.X, precNot)
		} else {
			sb.WriteByte('-')
			var inner strings.Builder
			writeNode(&inner, n.X, precNeg)
			if strings.HasPrefix(inner.String(), "-") {
				sb.WriteByte(' ')
			}
			sb.WriteString(inner.String())
		}
	case *Binary:
		bp := binaryPrec(n.Op)
		writeNode(sb, n.L, bp)
		sb.WriteByte(' ')
		sb.WriteString(n.Op)
		sb.WriteByte(' ')
		writeNode(sb, n.R, bp+1)
	case *In:
		writeNode(sb, n.X, precCmp)
		if n.Not {
			sb.WriteString(" not")
		}
		sb.WriteString(" in (")
		for i, e := range n.List {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeNode(sb, e, 0)
		}
		sb.WriteByte(')')
	case *Between:
		writeNode(sb, n.X, precCmp)
		if n.Not {
			sb.WriteString(" not")
		}
		sb.WriteString(" between ")
		writeNode(sb, n.Lo, precAdd)
		sb.WriteString(" and ")
		writeNode(sb, n.Hi, precAdd)
	case *IsNull:
		writeNode(sb, n.X, precCmp)
		if n.Not {
			sb.WriteString(" is not null")
		} else {
			sb.WriteString(" is null")
		}
	case *Like:
		writeNode(sb, n.X, precCmp)
		if n.Not {
			sb.WriteString(" not")
		}
		sb.WriteString(" like ")
		writeNode(sb, n.Pattern, precAdd)
	case *Call:
		sb.WriteString(n.Name)
		sb.WriteByte('(')
		for i, a := range n.Args {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeNode(sb, a, 0)
		}
		sb.WriteByte(')')
	case *Case:
		sb.WriteString("case")
		if n.Operand != nil {
			sb.WriteByte(' ')
			writeNode(sb, n.Operand, 0)
		}
		for _, w := range n.Whens {
			sb.WriteString(" when ")
			writeNode(sb, w.Cond, 0)
			sb.WriteString(" then ")
			writeNode(sb, w.Then, 0)
		}
		if n.Else != nil {
			sb.WriteString(" else ")
			writeNode(sb, n.Else, 0)
		}
		sb.WriteString(" end")
	}
}

func writeLiteral(sb *strings.Builder, n *Literal) {
	switch n.Kind {
	case LitNull:
		sb.WriteString("null")
	case LitBool:
		sb.WriteString(strconv.FormatBool(n.Bool))
	case LitInt:
		sb.WriteString(strconv.FormatInt(n.Int, 10))
	case LitFloat:
		sb.WriteString(formatFloatLiteral(n.Float))
	case LitString:
		writeQuoted(sb, n.Str, '\'')
	case LitDuration:
		sb.WriteString(formatDuration(n.Int))
	case LitTimestamp:
		sb.WriteString("timestamp '")
		sb.Write(batch.AppendTimestamp(nil, n.Int))
		sb.WriteByte('\'')
	}
}

func formatFloatLiteral(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "float('inf')"
	case math.IsInf(f, -1):
		return "float('-inf')"
	case math.IsNaN(f):
		return "float('nan')"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func writeQuoted(sb *strings.Builder, s string, q byte) {
	sb.WriteByte(q)
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			sb.WriteByte(q)
		}
		sb.WriteByte(s[i])
	}
	sb.WriteByte(q)
}

func writeColumn(sb *strings.Builder, name string) {
	if isBareIdent(name) && !isKeyword(strings.ToLower(name)) {
		sb.WriteString(name)
		return
	}
	writeQuoted(sb, name, '`')
}

// isBareIdent reports whether name lexes as one identifier.
func isBareIdent(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		if r == utf8.RuneError {
			return false
		}
		if i == 0 && !isIdentStart(r) {
			return false
		}
		if !isIdentPart(r) {
			return false
		}
	}
	return true
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "between": true, "is": true,
	"null": true, "true": true, "false": true, "case": true, "when": true,
	"then": true, "else": true, "end": true, "like": true,
}

func isKeyword(lower string) bool { return keywords[lower] }

// formatDuration renders microseconds as a duration literal (1h30m, 250ms,
// 2d, -5m, 0s).
func formatDuration(us int64) string {
	if us == 0 {
		return "0s"
	}
	var sb strings.Builder
	u := uint64(us)
	if us < 0 {
		sb.WriteByte('-')
		u = uint64(-us) // MinInt64 wraps to its magnitude as uint64
	}
	units := []struct {
		name string
		size uint64
	}{{"d", 86_400_000_000}, {"h", 3_600_000_000}, {"m", 60_000_000}, {"s", 1_000_000}, {"ms", 1000}, {"us", 1}}
	for _, un := range units {
		if q := u / un.size; q > 0 {
			sb.WriteString(strconv.FormatUint(q, 10))
			sb.WriteString(un.name)
			u -= q * un.size
		}
	}
	return sb.String()
}
