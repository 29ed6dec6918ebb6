package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/conveyor-etl/conveyor/batch"
)

// maxDepth bounds the nesting of the syntax tree (parentheses, unary
// operators, calls) so hostile input cannot exhaust the stack.
const maxDepth = 200

// Parse parses an expression. Syntax errors are *SyntaxError.
func Parse(src string) (*Expr, error) {
	p := &parser{lex: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf(p.tok.pos, "unexpected %s after the end of the expression", p.describe())
	}
	return &Expr{Root: root, Src: src}, nil
}

type parser struct {
	lex   lexer
	tok   token
	depth int
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return newSyntaxError(p.lex.src, pos, format, args...)
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// describe names the current token for error messages.
func (p *parser) describe() string {
	switch p.tok.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + strconv.Quote(p.tok.text)
	case tQIdent:
		return "`" + p.tok.text + "`"
	case tDuration:
		return "duration " + p.tok.text
	}
	return strconv.Quote(p.tok.text)
}

// isKw reports whether the current token is the keyword kw (lower case).
func (p *parser) isKw(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

func (p *parser) expectOp(op, context string) error {
	if !p.isOp(op) {
		return p.errf(p.tok.pos, "expected %q %s, found %s", op, context, p.describe())
	}
	return p.advance()
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf(p.tok.pos, "expression nested too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

func (p *parser) parseOr() (Node, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKw("or") || p.isOp("||") {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &Binary{Pos: pos, Op: "or", L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (Node, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isKw("and") || p.isOp("&&") {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &Binary{Pos: pos, Op: "and", L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseNot() (Node, error) {
	if p.isKw("not") || p.isOp("!") {
		pos := p.tok.pos
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: pos, Op: "not", X: x}, nil
	}
	return p.parseCmp()
}

var cmpOps = map[string]string{"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *parser) parseCmp() (Node, error) {
	l, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	for {
		pos := p.tok.pos
		if p.tok.kind == tOp {
			op, ok := cmpOps[p.tok.text]
			if !ok {
				return l, nil
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			r, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			l = &Binary{Pos: pos, Op: op, L: l, R: r}
			continue
		}
		if p.isKw("is") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			not := false
			if p.isKw("not") {
				not = true
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			if !p.isKw("null") {
				return nil, p.errf(p.tok.pos, "expected \"null\" after \"is\", found %s", p.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			l = &IsNull{Pos: pos, X: l, Not: not}
			continue
		}
		not := false
		if p.isKw("not") {
			// x not in / not between / not like
			save := p.lex.pos
			saveTok := p.tok
			if err := p.advance(); err != nil {
				return nil, err
			}
			if !p.isKw("in") && !p.isKw("between") && !p.isKw("like") {
				p.lex.pos, p.tok = save, saveTok
				return l, nil
			}
			not = true
		}
		switch {
		case p.isKw("in"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			if err := p.expectOp("(", "after \"in\""); err != nil {
				return nil, err
			}
			list, err := p.parseList("in list")
			if err != nil {
				return nil, err
			}
			if len(list) == 0 {
				return nil, p.errf(pos, "empty in list")
			}
			l = &In{Pos: pos, X: l, List: list, Not: not}
		case p.isKw("between"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			lo, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			if !p.isKw("and") {
				return nil, p.errf(p.tok.pos, "expected \"and\" in between, found %s", p.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			hi, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			l = &Between{Pos: pos, X: l, Lo: lo, Hi: hi, Not: not}
		case p.isKw("like"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			pat, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			l = &Like{Pos: pos, X: l, Pattern: pat, Not: not}
		default:
			return l, nil
		}
	}
}

// parseList parses "a, b, c)" (the opening parenthesis consumed).
func (p *parser) parseList(what string) ([]Node, error) {
	var list []Node
	if p.isOp(")") {
		return list, p.advance()
	}
	for {
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if p.isOp(",") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if p.isOp(")") {
			return list, p.advance()
		}
		return nil, p.errf(p.tok.pos, "expected \",\" or \")\" in %s, found %s", what, p.describe())
	}
}

func (p *parser) parseAdd() (Node, error) {
	l, err := p.parseMul()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		pos, op := p.tok.pos, p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseMul()
		if err != nil {
			return nil, err
		}
		l = &Binary{Pos: pos, Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseMul() (Node, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("%") {
		pos, op := p.tok.pos, p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = &Binary{Pos: pos, Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseUnary() (Node, error) {
	if !p.isOp("-") && !p.isOp("+") {
		return p.parsePrimary()
	}
	pos, op := p.tok.pos, p.tok.text
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return nil, err
	}
	if op == "-" && p.tok.kind == tInt && p.tok.text == "9223372036854775808" {
		lpos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		_ = lpos
		return &Literal{Pos: pos, Kind: LitInt, Int: math.MinInt64}, nil
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if op == "+" {
		return x, nil
	}
	// Fold the sign into numeric literals: -5 is the literal -5.
	if lit, ok := x.(*Literal); ok {
		switch lit.Kind {
		case LitInt:
			if lit.Int != math.MinInt64 {
				return &Literal{Pos: pos, Kind: LitInt, Int: -lit.Int}, nil
			}
		case LitFloat:
			return &Literal{Pos: pos, Kind: LitFloat, Float: -lit.Float}, nil
		case LitDuration:
			if lit.Int != math.MinInt64 {
				return &Literal{Pos: pos, Kind: LitDuration, Int: -lit.Int}, nil
			}
		}
	}
	return &Unary{Pos: pos, Op: "-", X: x}, nil
}

func (p *parser) parsePrimary() (Node, error) {
	t := p.tok
	switch t.kind {
	case tEOF:
		return nil, p.errf(t.pos, "unexpected end of expression, expected a value")
	case tInt:
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, p.errf(t.pos, "integer %s out of range (the range is ±9223372036854775807; write a float such as %s.0)", t.text, t.text)
		}
		return &Literal{Pos: t.pos, Kind: LitInt, Int: v}, p.advance()
	case tFloat:
		return &Literal{Pos: t.pos, Kind: LitFloat, Float: t.f}, p.advance()
	case tString:
		return &Literal{Pos: t.pos, Kind: LitString, Str: t.text}, p.advance()
	case tDuration:
		return &Literal{Pos: t.pos, Kind: LitDuration, Int: t.num}, p.advance()
	case tQIdent:
		return &ColumnRef{Pos: t.pos, Name: t.text}, p.advance()
	case tOp:
		if t.text == "(" {
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer func() { p.depth-- }()
			if err := p.advance(); err != nil {
				return nil, err
			}
			e, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			if !p.isOp(")") {
				return nil, p.errf(p.tok.pos, "expected \")\" to close the \"(\" at column %d, found %s", colOf(p.lex.src, t.pos), p.describe())
			}
			return e, p.advance()
		}
		if t.text == "!" {
			return p.parseNot()
		}
		return nil, p.errf(t.pos, "unexpected %s, expected a value", p.describe())
	}
	// Identifier: keyword, typed literal, call or column.
	lower := strings.ToLower(t.text)
	switch lower {
	case "null":
		return &Literal{Pos: t.pos, Kind: LitNull}, p.advance()
	case "true", "false":
		return &Literal{Pos: t.pos, Kind: LitBool, Bool: lower == "true"}, p.advance()
	case "case":
		return p.parseCase()
	case "not":
		// "a = not b": not where a value is expected binds its operand
		// at comparison level, as PostgreSQL does.
		return p.parseNot()
	}
	if isKeyword(lower) {
		return nil, p.errf(t.pos, "unexpected keyword %q, expected a value (write `%s` for a column of that name)", lower, t.text)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tString && (lower == "timestamp" || lower == "date" || lower == "interval") {
		return p.typedLiteral(t, lower)
	}
	if p.isOp("(") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if err := p.advance(); err != nil {
			return nil, err
		}
		args, err := p.parseList("the arguments of " + lower)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && strings.HasPrefix(se.Msg, "expected \",\" or \")\"") {
				return nil, p.errf(se.Pos, "expected \")\" after arguments of %s, found %s", lower, p.describe())
			}
			return nil, err
		}
		return &Call{Pos: t.pos, Name: lower, Args: args}, nil
	}
	return &ColumnRef{Pos: t.pos, Name: t.text}, nil
}

func colOf(src string, pos int) int {
	_, c := position(src, pos)
	return c
}

// typedLiteral parses timestamp '...', date '...' and interval '...'.
func (p *parser) typedLiteral(kw token, lower string) (Node, error) {
	s := p.tok
	switch lower {
	case "timestamp":
		us, ok := batch.ParseTimestamp([]byte(strings.TrimSpace(s.text)))
		if !ok {
			return nil, p.errf(s.pos, "invalid timestamp %q (expected RFC 3339, e.g. '2024-01-01T00:00:00Z')", s.text)
		}
		return &Literal{Pos: kw.pos, Kind: LitTimestamp, Int: us}, p.advance()
	case "date":
		d, ok := batch.ParseDate([]byte(strings.TrimSpace(s.text)))
		if !ok {
			return nil, p.errf(s.pos, "invalid date %q (expected YYYY-MM-DD)", s.text)
		}
		return &Literal{Pos: kw.pos, Kind: LitTimestamp, Int: int64(d) * 86_400_000_000}, p.advance()
	}
	us, ok := parseInterval(s.text)
	if !ok {
		return nil, p.errf(s.pos, "invalid interval %q (expected e.g. '5 minutes', '1 hour 30 minutes' or '1h30m')", s.text)
	}
	return &Literal{Pos: kw.pos, Kind: LitDuration, Int: us}, p.advance()
}

var intervalUnits = map[string]int64{
	"us": 1, "microsecond": 1, "microseconds": 1,
	"ms": 1000, "millisecond": 1000, "milliseconds": 1000,
	"s": 1e6, "sec": 1e6, "secs": 1e6, "second": 1e6, "seconds": 1e6,
	"m": 60e6, "min": 60e6, "mins": 60e6, "minute": 60e6, "minutes": 60e6,
	"h": 3600e6, "hr": 3600e6, "hrs": 3600e6, "hour": 3600e6, "hours": 3600e6,
	"d": 86400e6, "day": 86400e6, "days": 86400e6,
	"w": 7 * 86400e6, "week": 7 * 86400e6, "weeks": 7 * 86400e6,
}

// parseInterval parses "5 minutes", "1 hour 30 minutes", "-2 days" or a
// duration literal's form ("1h30m").
func parseInterval(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, strings.TrimSpace(s[1:])
	}
	fields := strings.Fields(s)
	var total int64
	if len(fields) == 1 {
		l := lexer{src: fields[0]}
		t, err := l.number()
		if err != nil || t.kind != tDuration || l.pos != len(fields[0]) {
			return 0, false
		}
		total = t.num
	} else {
		if len(fields)%2 != 0 {
			return 0, false
		}
		for i := 0; i < len(fields); i += 2 {
			n, err := strconv.ParseInt(fields[i], 10, 64)
			u, ok := intervalUnits[strings.ToLower(fields[i+1])]
			if err != nil || !ok || n < 0 || n > math.MaxInt64/u {
				return 0, false
			}
			if total > math.MaxInt64-n*u {
				return 0, false
			}
			total += n * u
		}
	}
	if neg {
		total = -total
	}
	return total, true
}

func (p *parser) parseCase() (Node, error) {
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return nil, err
	}
	c := &Case{Pos: pos}
	if !p.isKw("when") && !p.isKw("end") && !p.isKw("else") {
		op, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c.Operand = op
	}
	for p.isKw("when") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if !p.isKw("then") {
			return nil, p.errf(p.tok.pos, "expected \"then\" after the when condition, found %s", p.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		then, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Then: then})
	}
	if len(c.Whens) == 0 {
		return nil, p.errf(p.tok.pos, "expected \"when\" in case, found %s", p.describe())
	}
	if p.isKw("else") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c.Else = e
	}
	if !p.isKw("end") {
		return nil, p.errf(p.tok.pos, "expected \"end\" to close the case at column %d, found %s", colOf(p.lex.src, pos), p.describe())
	}
	return c, p.advance()
}
