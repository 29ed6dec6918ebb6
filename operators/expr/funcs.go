package expr

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func nearestName(s string, names []string) string { return flow.Nearest(s, names) }

// funcNode is a scalar function applied row by row over vectors (string,
// math and time functions). Strict functions are null when any argument
// is null.
type funcNode struct {
	name   string
	t      Type
	args   []node
	strict bool
	kern   func(f *funcNode, a []*vec, rows int)
	out    vec
	buf    bufs
	vs     []*vec
	// compile-time parameters
	re      *regexp.Regexp
	layout  string
	unit    string
	lit     []byte
	tp      batch.TimestampParser
	hashBuf []byte
}

func (f *funcNode) typ() Type    { return f.t }
func (f *funcNode) kids() []node { return f.args }

func (f *funcNode) eval(c *ctx) (*vec, error) {
	vs := f.vs[:0]
	for _, a := range f.args {
		v, err := a.eval(c)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	f.vs = vs
	if f.strict && anyNull(vs...) {
		return nullVec, nil
	}
	rows, scalar := rowsFor(c, vs...)
	f.out = vec{scalar: scalar}
	if f.strict {
		f.out.valid = combineValid(&f.buf.valid, rows, vs...)
	}
	f.kern(f, vs, rows)
	return &f.out, nil
}

// setNull makes row k of the result null.
func (f *funcNode) setNull(k, rows int) {
	f.out.valid = ownValid(&f.buf.valid, f.out.valid, rows)
	clearBit(f.out.valid, k)
}

func (f *funcNode) ok(k int) bool { return f.out.validAt(k) }

func (f *funcNode) strBegin(rows int) {
	f.buf.off = growInt32s(f.buf.off, rows+1)
	f.buf.off[0] = 0
	f.buf.data = f.buf.data[:0]
}
func (f *funcNode) strEnd(k int) { f.buf.off[k+1] = int32(len(f.buf.data)) }
func (f *funcNode) strDone()     { f.out.off, f.out.data = f.buf.off, f.buf.data }

func (f *funcNode) ints(rows int) []int64 {
	f.buf.i = growInts(f.buf.i, rows)
	f.out.i = f.buf.i
	return f.buf.i
}

func (f *funcNode) floats(rows int) []float64 {
	f.buf.f = growFloats(f.buf.f, rows)
	f.out.f = f.buf.f
	return f.buf.f
}

func (f *funcNode) bools(rows int) []byte {
	f.buf.b = growBytes(f.buf.b, bitmapBytes(rows))
	fillBits(f.buf.b, 0, len(f.buf.b))
	f.out.b = f.buf.b
	return f.buf.b
}

// strFunc builds a string -> string kernel.
func strFunc(fn func(dst, s []byte) []byte) func(f *funcNode, a []*vec, rows int) {
	return func(f *funcNode, a []*vec, rows int) {
		f.strBegin(rows)
		for k := 0; k < rows; k++ {
			if f.ok(k) {
				f.buf.data = fn(f.buf.data, a[0].str(k))
			}
			f.strEnd(k)
		}
		f.strDone()
	}
}

// predFunc builds a (string, string) -> bool kernel.
func predFunc(fn func(s, t []byte) bool) func(f *funcNode, a []*vec, rows int) {
	return func(f *funcNode, a []*vec, rows int) {
		out := f.bools(rows)
		for k := 0; k < rows; k++ {
			if f.ok(k) && fn(a[0].str(k), a[1].str(k)) {
				setBit(out, k)
			}
		}
	}
}

// floatFunc builds a float -> float kernel; NaN and infinite results of
// finite arguments are null (domain errors: sqrt(-1), ln(0)).
func floatFunc(fn func(float64) float64) func(f *funcNode, a []*vec, rows int) {
	return func(f *funcNode, a []*vec, rows int) {
		out := f.floats(rows)
		for k := 0; k < rows; k++ {
			x := a[0].floatAt(k)
			y := fn(x)
			out[k] = y
			if (y != y && x == x) || (math.IsInf(y, 0) && !math.IsInf(x, 0)) {
				if f.ok(k) {
					f.setNull(k, rows)
				}
			}
		}
	}
}

func mapRunes(dst, s []byte, fn func(rune) rune) []byte {
	for k := 0; k < len(s); {
		c := s[k]
		if c < utf8.RuneSelf {
			dst = append(dst, byte(fn(rune(c))))
			k++
			continue
		}
		r, size := utf8.DecodeRune(s[k:])
		dst = utf8.AppendRune(dst, fn(r))
		k += size
	}
	return dst
}

// lowerBytes appends s in lower case: ASCII bytes are mapped inline, other
// characters through unicode.ToLower.
func lowerBytes(dst, s []byte) []byte {
	for k := 0; k < len(s); k++ {
		if s[k] >= utf8.RuneSelf {
			return mapRunes(dst, s[k:], lowerASCII)
		}
		c := s[k]
		if 'A' <= c && c <= 'Z' {
			c += 32
		}
		dst = append(dst, c)
	}
	return dst
}

// upperBytes is lowerBytes for upper case.
func upperBytes(dst, s []byte) []byte {
	for k := 0; k < len(s); k++ {
		if s[k] >= utf8.RuneSelf {
			return mapRunes(dst, s[k:], upperASCII)
		}
		c := s[k]
		if 'a' <= c && c <= 'z' {
			c -= 32
		}
		dst = append(dst, c)
	}
	return dst
}

func lowerASCII(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}
	return unicode.ToLower(r)
}

func upperASCII(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 32
		}
		return r
	}
	return unicode.ToUpper(r)
}

// substrRange returns the byte range of runes [start, start+n) (1-based,
// clamped to the string as PostgreSQL does); n < 0 means to the end.
func substrRange(s []byte, start, n int64, hasLen bool) (int, int) {
	from := start
	var to int64 = math.MaxInt64 // exclusive, in runes (1-based)
	if hasLen {
		if start > 0 && n > math.MaxInt64-start {
			to = math.MaxInt64
		} else {
			to = start + n
		}
	}
	if from < 1 {
		from = 1
	}
	if to <= from {
		return 0, 0
	}
	pos := int64(1)
	bs, be := len(s), len(s)
	for k := 0; k <= len(s); {
		if pos == from {
			bs = k
		}
		if pos == to {
			be = k
			break
		}
		if k == len(s) {
			break
		}
		if s[k] < utf8.RuneSelf {
			k++
		} else {
			_, size := utf8.DecodeRune(s[k:])
			k += size
		}
		pos++
	}
	if bs > be {
		return 0, 0
	}
	return bs, be
}

func appendReplace(dst, s, old, repl []byte) []byte {
	if len(old) == 0 {
		return append(dst, s...)
	}
	for {
		i := bytes.Index(s, old)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, repl...)
		s = s[i+len(old):]
	}
}

// splitPart returns field n (1-based; negative counts from the end) of s
// split on sep; ok is false for n == 0.
func splitPart(s, sep []byte, n int64) ([]byte, bool) {
	if n == 0 {
		return nil, false
	}
	if len(sep) == 0 {
		if n == 1 || n == -1 {
			return s, true
		}
		return nil, true
	}
	if n > 0 {
		for ; n > 1; n-- {
			i := bytes.Index(s, sep)
			if i < 0 {
				return nil, true
			}
			s = s[i+len(sep):]
		}
		if i := bytes.Index(s, sep); i >= 0 {
			return s[:i], true
		}
		return s, true
	}
	for ; n < -1; n++ {
		i := bytes.LastIndex(s, sep)
		if i < 0 {
			return nil, true
		}
		s = s[:i]
	}
	if i := bytes.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):], true
	}
	return s, true
}

// argsAs coerces args to types: Float accepts Int; String with auto also
// converts any type to its text; Null becomes a typed null. want Null
// means any type (unchanged).
func (cp *compiler) argAs(n *Call, args []node, k int, want Type, auto bool) error {
	from := args[k].typ()
	switch {
	case want == Null || from == want:
		return nil
	case from == Null:
		args[k] = constNull(want)
		return nil
	case want == Float && from == Int:
		args[k] = cp.fold(&castNode{x: args[k], from: Int, to: Float})
		return nil
	case want == String && auto:
		args[k] = cp.fold(&castNode{x: args[k], from: from, to: String})
		return nil
	}
	return cp.errf(n.Args[k], "argument %d of %s must be %s, got %s", k+1, n.Name, want, from)
}

// constStr returns the constant string argument k, or a type error.
func (cp *compiler) constStr(n *Call, args []node, k int, what string) (string, error) {
	c, ok := args[k].(*constNode)
	if !ok || c.t != String || c.v.isNull() {
		return "", cp.errf(n.Args[k], "the %s of %s must be a string literal", what, n.Name)
	}
	return string(c.v.str(0)), nil
}

type fdef struct {
	min, max int
	doc      string
	in       []Type // argument types (last repeats for variadic); Null = any
	auto     bool   // string arguments accept any type (converted to text)
	out      Type   // Null: same as the first argument
	strict   bool
	kern     func(f *funcNode, a []*vec, rows int)
	prep     func(cp *compiler, n *Call, args []node, f *funcNode) error
}

func reg(name string, d fdef) {
	builtins[name] = &builtin{d.min, d.max, d.doc, func(cp *compiler, n *Call, args []node) (node, error) {
		for k := range args {
			want := d.in[len(d.in)-1]
			if k < len(d.in) {
				want = d.in[k]
			}
			if err := cp.argAs(n, args, k, want, d.auto); err != nil {
				return nil, err
			}
		}
		t := d.out
		if t == Null && len(args) > 0 {
			t = args[0].typ()
		}
		f := &funcNode{name: name, t: t, args: args, strict: d.strict, kern: d.kern}
		if d.prep != nil {
			if err := d.prep(cp, n, args, f); err != nil {
				return nil, err
			}
		}
		if f.t == Null {
			return constNull(Null), nil
		}
		return cp.fold(f), nil
	}}
}

func registerFuncs() {
	S, I, F, T, B := String, Int, Float, Timestamp, Bool
	_ = B
	// Strings.
	reg("lower", fdef{min: 1, max: 1, doc: "lower(s): lower case (Unicode)", in: []Type{S}, out: S, strict: true,
		kern: strFunc(lowerBytes)})
	reg("upper", fdef{min: 1, max: 1, doc: "upper(s): upper case (Unicode)", in: []Type{S}, out: S, strict: true,
		kern: strFunc(upperBytes)})
	trim := func(name string, fn func([]byte, func(rune) bool) []byte, cut func([]byte, string) []byte) {
		reg(name, fdef{min: 1, max: 2, doc: name + "(s[, chars]): remove white space (or the given characters)", in: []Type{S, S}, out: S, strict: true,
			kern: func(f *funcNode, a []*vec, rows int) {
				f.strBegin(rows)
				for k := 0; k < rows; k++ {
					if f.ok(k) {
						if len(a) > 1 {
							f.buf.data = append(f.buf.data, cut(a[0].str(k), unsafeString(a[1].str(k)))...)
						} else {
							f.buf.data = append(f.buf.data, fn(a[0].str(k), unicode.IsSpace)...)
						}
					}
					f.strEnd(k)
				}
				f.strDone()
			}})
	}
	trim("trim", bytes.TrimFunc, bytes.Trim)
	trim("ltrim", bytes.TrimLeftFunc, bytes.TrimLeft)
	trim("rtrim", bytes.TrimRightFunc, bytes.TrimRight)
	reg("length", fdef{min: 1, max: 1, doc: "length(s): number of characters (runes)", in: []Type{S}, out: I, strict: true,
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				out[k] = int64(utf8.RuneCount(a[0].str(k)))
			}
		}})
	reg("substr", fdef{min: 2, max: 3, doc: "substr(s, start[, len]): characters from start (1-based)", in: []Type{S, I, I}, out: S, strict: true,
		kern: func(f *funcNode, a []*vec, rows int) {
			f.strBegin(rows)
			for k := 0; k < rows; k++ {
				if f.ok(k) {
					var n int64 = -1
					if len(a) > 2 {
						n = a[2].intAt(k)
					}
					if len(a) > 2 && n < 0 {
						f.setNull(k, rows)
					} else {
						s := a[0].str(k)
						bs, be := substrRange(s, a[1].intAt(k), n, len(a) > 2)
						f.buf.data = append(f.buf.data, s[bs:be]...)
					}
				}
				f.strEnd(k)
			}
			f.strDone()
		}})
	builtins["substring"] = builtins["substr"]
	reg("concat", fdef{min: 1, max: -1, doc: "concat(a, ...): the arguments' text joined; null arguments are skipped", in: []Type{S}, auto: true, out: S,
		kern: func(f *funcNode, a []*vec, rows int) {
			f.strBegin(rows)
			for k := 0; k < rows; k++ {
				for _, v := range a {
					if v.validAt(k) {
						f.buf.data = append(f.buf.data, v.str(k)...)
					}
				}
				f.strEnd(k)
			}
			f.strDone()
		}})
	reg("contains", fdef{min: 2, max: 2, doc: "contains(s, sub)", in: []Type{S, S}, out: B, strict: true, kern: predFunc(bytes.Contains)})
	reg("starts_with", fdef{min: 2, max: 2, doc: "starts_with(s, prefix)", in: []Type{S, S}, out: B, strict: true, kern: predFunc(bytes.HasPrefix)})
	reg("ends_with", fdef{min: 2, max: 2, doc: "ends_with(s, suffix)", in: []Type{S, S}, out: B, strict: true, kern: predFunc(bytes.HasSuffix)})
	reg("replace", fdef{min: 3, max: 3, doc: "replace(s, old, new): every occurrence of old replaced", in: []Type{S, S, S}, out: S, strict: true,
		kern: func(f *funcNode, a []*vec, rows int) {
			f.strBegin(rows)
			for k := 0; k < rows; k++ {
				if f.ok(k) {
					f.buf.data = appendReplace(f.buf.data, a[0].str(k), a[1].str(k), a[2].str(k))
				}
				f.strEnd(k)
			}
			f.strDone()
		}})
	rePrep := func(cp *compiler, n *Call, args []node, f *funcNode) error {
		pat, err := cp.constStr(n, args, 1, "pattern")
		if err != nil {
			return err
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			msg := err.Error()
			if e, ok := err.(*syntax.Error); ok {
				msg = string(e.Code) + ": " + e.Expr
			}
			return cp.errf(n.Args[1], "invalid regular expression: %s", msg)
		}
		f.re = re
		return nil
	}
	reg("regex_match", fdef{min: 2, max: 2, doc: "regex_match(s, pattern): the RE2 pattern matches somewhere in s", in: []Type{S, S}, out: B, strict: true, prep: rePrep,
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.bools(rows)
			for k := 0; k < rows; k++ {
				if f.ok(k) && f.re.Match(a[0].str(k)) {
					setBit(out, k)
				}
			}
		}})
	reg("regex_replace", fdef{min: 3, max: 3, doc: "regex_replace(s, pattern, repl): every match replaced ($1 expands groups)", in: []Type{S, S, S}, out: S, strict: true, prep: rePrep,
		kern: func(f *funcNode, a []*vec, rows int) {
			f.strBegin(rows)
			for k := 0; k < rows; k++ {
				if f.ok(k) {
					f.buf.data = append(f.buf.data, f.re.ReplaceAll(a[0].str(k), a[2].str(k))...)
				}
				f.strEnd(k)
			}
			f.strDone()
		}})
	reg("split_part", fdef{min: 3, max: 3, doc: "split_part(s, sep, n): the n-th field (1-based, negative from the end)", in: []Type{S, S, I}, out: S, strict: true,
		kern: func(f *funcNode, a []*vec, rows int) {
			f.strBegin(rows)
			for k := 0; k < rows; k++ {
				if f.ok(k) {
					p, ok := splitPart(a[0].str(k), a[1].str(k), a[2].intAt(k))
					if !ok {
						f.setNull(k, rows)
					}
					f.buf.data = append(f.buf.data, p...)
				}
				f.strEnd(k)
			}
			f.strDone()
		}})

	// Math.
	numOnly := func(cp *compiler, n *Call, args []node, f *funcNode) error {
		if t := args[0].typ(); t != Int && t != Float && t != Null {
			return cp.errf(n.Args[0], "%s needs a number, got %s", n.Name, t)
		}
		return nil
	}
	reg("abs", fdef{min: 1, max: 1, doc: "abs(x)", in: []Type{Null}, strict: true, prep: numOnly,
		kern: func(f *funcNode, a []*vec, rows int) {
			if f.t == Float {
				out := f.floats(rows)
				for k := 0; k < rows; k++ {
					out[k] = math.Abs(a[0].floatAt(k))
				}
				return
			}
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				v := a[0].intAt(k)
				if v < 0 {
					v = -v
				}
				out[k] = v
				if v < 0 && f.ok(k) {
					f.setNull(k, rows) // abs(MinInt64) overflows
				}
			}
		}})
	reg("round", fdef{min: 1, max: 2, doc: "round(x[, digits]): half away from zero", in: []Type{Null, I}, strict: true, prep: numOnly,
		kern: func(f *funcNode, a []*vec, rows int) {
			if f.t == Float {
				out := f.floats(rows)
				for k := 0; k < rows; k++ {
					x := a[0].floatAt(k)
					if len(a) == 1 {
						out[k] = math.Round(x)
						continue
					}
					out[k] = roundDigits(x, a[1].intAt(k))
				}
				return
			}
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				x := a[0].intAt(k)
				if len(a) == 1 || a[1].intAt(k) >= 0 {
					out[k] = x
					continue
				}
				v, ok := roundInt(x, -a[1].intAt(k))
				out[k] = v
				if !ok && f.ok(k) {
					f.setNull(k, rows)
				}
			}
		}})
	for _, fn := range []struct {
		name string
		f    func(float64) float64
	}{{"floor", math.Floor}, {"ceil", math.Ceil}} {
		fn := fn
		reg(fn.name, fdef{min: 1, max: 1, doc: fn.name + "(x): float for a float, the int itself for an int", in: []Type{Null}, strict: true, prep: numOnly,
			kern: func(f *funcNode, a []*vec, rows int) {
				if f.t == Int {
					f.out.i = a[0].i
					return
				}
				out := f.floats(rows)
				for k := 0; k < rows; k++ {
					out[k] = fn.f(a[0].floatAt(k))
				}
			}})
	}
	builtins["ceiling"] = builtins["ceil"]
	reg("sqrt", fdef{min: 1, max: 1, doc: "sqrt(x): float; negative x gives null", in: []Type{F}, out: F, strict: true, kern: floatFunc(math.Sqrt)})
	reg("ln", fdef{min: 1, max: 1, doc: "ln(x): natural logarithm; x <= 0 gives null", in: []Type{F}, out: F, strict: true, kern: floatFunc(math.Log)})
	reg("log10", fdef{min: 1, max: 1, doc: "log10(x); x <= 0 gives null", in: []Type{F}, out: F, strict: true, kern: floatFunc(math.Log10)})
	reg("exp", fdef{min: 1, max: 1, doc: "exp(x)", in: []Type{F}, out: F, strict: true, kern: floatFunc(math.Exp)})
	reg("pow", fdef{min: 2, max: 2, doc: "pow(x, y): float; NaN results (pow(-8, 0.5)) give null", in: []Type{F, F}, out: F, strict: true,
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.floats(rows)
			for k := 0; k < rows; k++ {
				x, y := a[0].floatAt(k), a[1].floatAt(k)
				r := math.Pow(x, y)
				out[k] = r
				if r != r && x == x && y == y && f.ok(k) {
					f.setNull(k, rows)
				}
			}
		}})
	builtins["power"] = builtins["pow"]
	for _, name := range []string{"least", "greatest"} {
		greatest := name == "greatest"
		builtins[name] = &builtin{1, -1, name + "(a, ...): the smallest/largest non-null argument", func(cp *compiler, n *Call, args []node) (node, error) {
			types := make([]Type, len(args))
			for k, a := range args {
				types[k] = a.typ()
			}
			t, err := cp.commonType(n, name, types...)
			if err != nil {
				return nil, err
			}
			for k := range args {
				if args[k], err = cp.coerce(args[k], n.Args[k], t); err != nil {
					return nil, err
				}
			}
			if t == Null {
				return constNull(Null), nil
			}
			return cp.fold(&funcNode{name: name, t: t, args: args, kern: func(f *funcNode, a []*vec, rows int) { minMax(f, a, rows, greatest) }}), nil
		}}
	}

	// Time.
	part := func(name string, fn func(us int64) int64) {
		reg(name, fdef{min: 1, max: 1, doc: name + "(t): int (UTC)", in: []Type{T}, out: I, strict: true,
			kern: func(f *funcNode, a []*vec, rows int) {
				out := f.ints(rows)
				for k := 0; k < rows; k++ {
					out[k] = fn(a[0].intAt(k))
				}
			}})
	}
	part("year", func(us int64) int64 { y, _, _ := civil(us); return y })
	part("month", func(us int64) int64 { _, m, _ := civil(us); return m })
	part("day", func(us int64) int64 { _, _, d := civil(us); return d })
	part("hour", func(us int64) int64 { return floorMod(us, 86_400e6) / 3_600e6 })
	part("minute", func(us int64) int64 { return floorMod(us, 3_600e6) / 60e6 })
	part("second", func(us int64) int64 { return floorMod(us, 60e6) / 1e6 })
	part("day_of_week", func(us int64) int64 { return floorMod(floorDiv(us, 86_400e6)+3, 7) + 1 }) // 1970-01-01 was a Thursday (4)
	part("day_of_year", func(us int64) int64 {
		y, _, _ := civil(us)
		return floorDiv(us, 86_400e6) - daysFromCivil(y, 1, 1) + 1
	})
	part("epoch_ms", func(us int64) int64 { return floorDiv(us, 1000) })
	reg("from_epoch_ms", fdef{min: 1, max: 1, doc: "from_epoch_ms(i): timestamp from milliseconds since 1970-01-01 UTC", in: []Type{I}, out: T, strict: true,
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				v, ok := checkedInt('*', a[0].intAt(k), 1000)
				out[k] = v
				if !ok && f.ok(k) {
					f.setNull(k, rows)
				}
			}
		}})
	reg("date_trunc", fdef{min: 2, max: 2, doc: "date_trunc(unit, t): t truncated to second, minute, hour, day, week (Monday), month, quarter or year", in: []Type{S, T}, out: T, strict: true,
		prep: func(cp *compiler, n *Call, args []node, f *funcNode) error {
			u, err := cp.constStr(n, args, 0, "unit")
			if err != nil {
				return err
			}
			f.unit = strings.ToLower(strings.TrimSpace(u))
			switch f.unit {
			case "second", "minute", "hour", "day", "week", "month", "quarter", "year":
				return nil
			}
			return cp.errf(n.Args[0], "unknown date_trunc unit %q (second, minute, hour, day, week, month, quarter, year)", u)
		},
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				out[k] = truncTime(f.unit, a[1].intAt(k))
			}
		}})
	reg("parse_time", fdef{min: 1, max: 2, doc: "parse_time(s[, layout]): timestamp; a Go layout or strftime (%Y-%m-%d); failure gives null", in: []Type{S, S}, out: T, strict: true,
		prep: func(cp *compiler, n *Call, args []node, f *funcNode) error {
			if len(args) < 2 {
				return nil
			}
			l, err := cp.constStr(n, args, 1, "layout")
			if err != nil {
				return err
			}
			f.layout, err = goLayout(l)
			if err != nil {
				return cp.errf(n.Args[1], "%v", err)
			}
			return nil
		},
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				if !f.ok(k) {
					out[k] = 0
					continue
				}
				s := a[0].str(k)
				var ok bool
				if f.layout == "" {
					out[k], ok = f.tp.Parse(bytes.TrimSpace(s))
				} else {
					var t time.Time
					var err error
					t, err = time.Parse(f.layout, unsafeString(s))
					out[k], ok = t.UnixMicro(), err == nil
				}
				if !ok {
					f.setNull(k, rows)
				}
			}
		}})
	reg("format_time", fdef{min: 2, max: 2, doc: "format_time(t, layout): a Go layout or strftime", in: []Type{T, S}, out: S, strict: true,
		prep: func(cp *compiler, n *Call, args []node, f *funcNode) error {
			l, err := cp.constStr(n, args, 1, "layout")
			if err != nil {
				return err
			}
			f.layout, err = goLayout(l)
			if err != nil {
				return cp.errf(n.Args[1], "%v", err)
			}
			return nil
		},
		kern: func(f *funcNode, a []*vec, rows int) {
			f.strBegin(rows)
			for k := 0; k < rows; k++ {
				if f.ok(k) {
					f.buf.data = time.UnixMicro(a[0].intAt(k)).UTC().AppendFormat(f.buf.data, f.layout)
				}
				f.strEnd(k)
			}
			f.strDone()
		}})

	// Hashing.
	reg("hash64", fdef{min: 1, max: -1, doc: "hash64(x, ...): 64-bit FNV-1a of the arguments' encoding, as int", in: []Type{Null}, out: I,
		kern: func(f *funcNode, a []*vec, rows int) {
			out := f.ints(rows)
			for k := 0; k < rows; k++ {
				f.hashBuf = f.hashBuf[:0]
				for j, v := range a {
					f.hashBuf = appendHashKey(f.hashBuf, f.args[j].typ(), v, k)
				}
				out[k] = int64(fnv1a(f.hashBuf))
			}
		}})
	hexHash := func(name string, sum func(dst, s []byte) []byte) {
		reg(name, fdef{min: 1, max: 1, doc: name + "(s): lower-case hex digest of the UTF-8 bytes", in: []Type{S}, auto: true, out: S, strict: true,
			kern: strFunc(sum)})
	}
	hexHash("md5", func(dst, s []byte) []byte { h := md5.Sum(s); return hex.AppendEncode(dst, h[:]) })
	hexHash("sha256", func(dst, s []byte) []byte { h := sha256.Sum256(s); return hex.AppendEncode(dst, h[:]) })
}

func roundDigits(x float64, d int64) float64 {
	if d > 308 || x != x || math.IsInf(x, 0) {
		return x
	}
	if d < -308 {
		return 0
	}
	p := math.Pow(10, float64(d))
	r := math.Round(x*p) / p
	if math.IsInf(x*p, 0) {
		return x
	}
	return r
}

// roundInt rounds x to a multiple of 10^d, half away from zero.
func roundInt(x, d int64) (int64, bool) {
	if d > 18 {
		return 0, true
	}
	p := int64(1)
	for ; d > 0; d-- {
		p *= 10
	}
	q, r := x/p, x%p
	if r >= (p+1)/2 {
		q++
	} else if r <= -(p+1)/2 {
		q--
	}
	return checkedInt('*', q, p)
}

func minMax(f *funcNode, a []*vec, rows int, greatest bool) {
	f.out.valid = nil
	b := &f.buf
	b.valid = growBytes(b.valid, bitmapBytes(rows))
	fillBits(b.valid, 0, len(b.valid))
	b.idx = growInt32s(b.idx, rows)
	hasNull := false
	for k := 0; k < rows; k++ {
		best := int32(-1)
		for j, v := range a {
			if !v.validAt(k) {
				continue
			}
			if best < 0 || better(f.t, v, a[best], k, greatest) {
				best = int32(j)
			}
		}
		b.idx[k] = best
		if best >= 0 {
			setBit(b.valid, k)
		} else {
			hasNull = true
		}
	}
	if hasNull {
		f.out.valid = b.valid
	}
	pick := func(k int) *vec {
		if j := b.idx[k]; j >= 0 {
			return a[j]
		}
		return nullVec
	}
	switch f.t {
	case Float:
		out := f.floats(rows)
		for k := range out {
			out[k] = pick(k).floatAt(k)
		}
	case String:
		f.strBegin(rows)
		for k := 0; k < rows; k++ {
			if b.idx[k] >= 0 {
				b.data = append(b.data, pick(k).str(k)...)
			}
			f.strEnd(k)
		}
		f.strDone()
	case Bool:
		out := f.bools(rows)
		for k := 0; k < rows; k++ {
			if b.idx[k] >= 0 && pick(k).boolAt(k) {
				setBit(out, k)
			}
		}
	default:
		out := f.ints(rows)
		for k := range out {
			out[k] = pick(k).intAt(k)
		}
	}
}

// better reports whether v[k] should replace cur[k] (strictly smaller for
// least, strictly larger for greatest: the first of equals wins).
func better(t Type, v, cur *vec, k int, greatest bool) bool {
	var c int
	switch t {
	case Float:
		x, y := v.floatAt(k), cur.floatAt(k)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case String:
		c = bytes.Compare(v.str(k), cur.str(k))
	case Bool:
		c = int(b2u(v.boolAt(k))) - int(b2u(cur.boolAt(k)))
	default:
		x, y := v.intAt(k), cur.intAt(k)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	}
	if greatest {
		return c > 0
	}
	return c < 0
}

// Hash encoding: per argument a tag byte (0 null, 1 bool, 2 int, 3 float,
// 4 string, 5 timestamp, 6 duration) then the value: bool 1 byte, numbers
// 8 bytes little-endian (floats as IEEE bits), strings their length as 8
// bytes little-endian then the bytes.
func appendHashKey(dst []byte, t Type, v *vec, k int) []byte {
	if !v.validAt(k) || t == Null {
		return append(dst, 0)
	}
	switch t {
	case Bool:
		return append(dst, 1, b2u(v.boolAt(k)))
	case Float:
		return appendU64(append(dst, 3), math.Float64bits(v.floatAt(k)))
	case String:
		s := v.str(k)
		return append(appendU64(append(dst, 4), uint64(len(s))), s...)
	case Timestamp:
		return appendU64(append(dst, 5), uint64(v.intAt(k)))
	case Duration:
		return appendU64(append(dst, 6), uint64(v.intAt(k)))
	}
	return appendU64(append(dst, 2), uint64(v.intAt(k)))
}

func appendU64(dst []byte, u uint64) []byte {
	return append(dst, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
}

// fnv1a is the 64-bit FNV-1a hash.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
