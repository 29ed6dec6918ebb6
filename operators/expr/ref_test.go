package expr

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"pgregory.net/rapid"

	"github.com/conveyor-etl/conveyor/batch"
)

// The reference evaluator: interprets the syntax tree row by row over Go
// values (nil, bool, int64, float64, string), independently of the
// vectorized plan. It covers the subset the generator below produces.

func refEval(n Node, row map[string]any) any {
	switch n := n.(type) {
	case *Literal:
		switch n.Kind {
		case LitBool:
			return n.Bool
		case LitInt:
			return n.Int
		case LitFloat:
			return n.Float
		case LitString:
			return n.Str
		}
		return nil
	case *ColumnRef:
		return row[n.Name]
	case *Unary:
		x := refEval(n.X, row)
		if x == nil {
			return nil
		}
		if n.Op == "not" {
			return !x.(bool)
		}
		switch v := x.(type) {
		case int64:
			if v == math.MinInt64 {
				return nil
			}
			return -v
		case float64:
			return -v
		}
	case *Binary:
		switch n.Op {
		case "and", "or":
			l, r := refEval(n.L, row), refEval(n.R, row)
			return ref3VL(n.Op == "or", l, r)
		case "+", "-", "*", "/", "%":
			return refArith(n.Op, refEval(n.L, row), refEval(n.R, row))
		}
		return refCmp(n.Op, refEval(n.L, row), refEval(n.R, row))
	case *IsNull:
		return (refEval(n.X, row) == nil) != n.Not
	case *In:
		x := refEval(n.X, row)
		if x == nil {
			return nil
		}
		var res any = false
		for _, e := range n.List {
			res = ref3VL(true, res, refCmp("=", x, refEval(e, row)))
		}
		if n.Not && res != nil {
			return !res.(bool)
		}
		return res
	case *Between:
		x := refEval(n.X, row)
		r := ref3VL(false, refCmp(">=", x, refEval(n.Lo, row)), refCmp("<=", x, refEval(n.Hi, row)))
		if n.Not && r != nil {
			return !r.(bool)
		}
		return r
	case *Like:
		x, p := refEval(n.X, row), refEval(n.Pattern, row)
		if x == nil || p == nil {
			return nil
		}
		return refLike([]rune(x.(string)), []rune(p.(string))) != n.Not
	case *Case:
		for _, w := range n.Whens {
			var c any
			if n.Operand != nil {
				c = refCmp("=", refEval(n.Operand, row), refEval(w.Cond, row))
			} else {
				c = refEval(w.Cond, row)
			}
			if c == true {
				return refEval(w.Then, row)
			}
		}
		if n.Else != nil {
			return refEval(n.Else, row)
		}
		return nil
	case *Call:
		args := make([]any, len(n.Args))
		for k, a := range n.Args {
			args[k] = refEval(a, row)
		}
		return refCall(n.Name, args)
	}
	panic(fmt.Sprintf("refEval: %T", n))
}

func ref3VL(or bool, l, r any) any {
	if or {
		if l == true || r == true {
			return true
		}
		if l == nil || r == nil {
			return nil
		}
		return false
	}
	if l == false || r == false {
		return false
	}
	if l == nil || r == nil {
		return nil
	}
	return true
}

func refArith(op string, l, r any) any {
	if l == nil || r == nil {
		return nil
	}
	li, lok := l.(int64)
	ri, rok := r.(int64)
	if lok && rok && op != "/" {
		if op == "%" {
			if ri == 0 {
				return nil
			}
			if ri == -1 {
				return int64(0)
			}
			return li % ri
		}
		a, b := big.NewInt(li), big.NewInt(ri)
		var z big.Int
		switch op {
		case "+":
			z.Add(a, b)
		case "-":
			z.Sub(a, b)
		case "*":
			z.Mul(a, b)
		}
		if !z.IsInt64() {
			return nil
		}
		return z.Int64()
	}
	a, b := toF(l), toF(r)
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		if b == 0 {
			return nil
		}
		return a / b
	case "%":
		if b == 0 {
			return nil
		}
		return math.Mod(a, b)
	}
	panic(op)
}

func toF(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("toF %T", v))
}

func refCmp(op string, l, r any) any {
	if l == nil || r == nil {
		return nil
	}
	var c int
	isNaN := false
	switch a := l.(type) {
	case string:
		c = strings.Compare(a, r.(string))
	case bool:
		c = int(b2u(a)) - int(b2u(r.(bool)))
	case int64:
		if b, ok := r.(int64); ok {
			c = cmp3(a < b, a > b)
			break
		}
		x, y := float64(a), toF(r)
		c, isNaN = cmp3(x < y, x > y), x != x || y != y
	case float64:
		x, y := a, toF(r)
		c, isNaN = cmp3(x < y, x > y), x != x || y != y
	}
	if isNaN {
		return op == "!="
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

func cmp3(lt, gt bool) int {
	if lt {
		return -1
	}
	if gt {
		return 1
	}
	return 0
}

func refLike(s, p []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '%':
		for k := 0; k <= len(s); k++ {
			if refLike(s[k:], p[1:]) {
				return true
			}
		}
		return false
	case '_':
		return len(s) > 0 && refLike(s[1:], p[1:])
	}
	return len(s) > 0 && s[0] == p[0] && refLike(s[1:], p[1:])
}

func refCall(name string, a []any) any {
	switch name {
	case "if":
		if a[0] == true {
			return a[1]
		}
		return a[2]
	case "coalesce":
		for _, v := range a {
			if v != nil {
				return v
			}
		}
		return nil
	case "least", "greatest":
		var best any
		for _, v := range a {
			if v == nil {
				continue
			}
			if best == nil || (name == "least" && refCmp("<", v, best) == true) || (name == "greatest" && refCmp(">", v, best) == true) {
				best = v
			}
		}
		return best
	case "concat":
		var sb strings.Builder
		for _, v := range a {
			if v != nil {
				sb.WriteString(v.(string))
			}
		}
		return sb.String()
	}
	for _, v := range a {
		if v == nil {
			return nil
		}
	}
	switch name {
	case "lower":
		return strings.ToLower(a[0].(string))
	case "upper":
		return strings.ToUpper(a[0].(string))
	case "trim":
		return strings.TrimSpace(a[0].(string))
	case "length":
		return int64(utf8.RuneCountInString(a[0].(string)))
	case "substr":
		rs := []rune(a[0].(string))
		start := a[1].(int64)
		end := int64(math.MaxInt64)
		if len(a) > 2 {
			n := a[2].(int64)
			if n < 0 {
				return nil
			}
			if start <= 0 || n <= math.MaxInt64-start {
				end = start + n
			}
		}
		from := max(start, 1)
		end = min(end, int64(len(rs))+1)
		if end <= from {
			return ""
		}
		return string(rs[from-1 : end-1])
	case "replace":
		if a[1].(string) == "" {
			return a[0]
		}
		return strings.ReplaceAll(a[0].(string), a[1].(string), a[2].(string))
	case "contains":
		return strings.Contains(a[0].(string), a[1].(string))
	case "starts_with":
		return strings.HasPrefix(a[0].(string), a[1].(string))
	case "abs":
		switch v := a[0].(type) {
		case int64:
			if v == math.MinInt64 {
				return nil
			}
			if v < 0 {
				return -v
			}
			return v
		case float64:
			return math.Abs(v)
		}
	case "round":
		if v, ok := a[0].(float64); ok {
			return math.Round(v)
		}
		return a[0]
	case "float":
		return toF(a[0])
	}
	panic("refCall " + name)
}

// Random expressions, typed so they compile.

var propSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i1", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i2", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f1", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s1", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "s2", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b1", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

var (
	genInts    = []int64{0, 1, -1, 2, 3, 7, -7, 100, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, 1 << 32, -(1 << 40)}
	genFloats  = []float64{0, 1.5, -2.25, 0.1, 1e300, -1e-300, 3}
	genStrings = []string{"", "a", "ab", "Hello", "ünï", "😀", " x ", "AB", "a%b", "ß"}
)

func lit(t *rapid.T, typ Type) string {
	if rapid.IntRange(0, 12).Draw(t, "null") == 0 {
		return "null"
	}
	switch typ {
	case Int:
		v := rapid.SampledFrom(genInts).Draw(t, "int")
		return fmt.Sprint(v)
	case Float:
		return formatFloatLiteral(rapid.SampledFrom(genFloats).Draw(t, "float"))
	case String:
		var sb strings.Builder
		writeQuoted(&sb, rapid.SampledFrom(genStrings).Draw(t, "str"), '\'')
		return sb.String()
	}
	return rapid.SampledFrom([]string{"true", "false"}).Draw(t, "bool")
}

func genExpr(t *rapid.T, typ Type, depth int) string {
	if depth <= 0 || rapid.IntRange(0, 3).Draw(t, "leaf") == 0 {
		if rapid.Bool().Draw(t, "col") {
			switch typ {
			case Int:
				return rapid.SampledFrom([]string{"i1", "i2"}).Draw(t, "c")
			case Float:
				return "f1"
			case String:
				return rapid.SampledFrom([]string{"s1", "s2"}).Draw(t, "c")
			case Bool:
				return "b1"
			}
		}
		return lit(t, typ)
	}
	d := depth - 1
	g := func(t2 Type) string { return genExpr(t, t2, d) }
	num := func() Type { return rapid.SampledFrom([]Type{Int, Float}).Draw(t, "num") }
	any := func() Type { return rapid.SampledFrom([]Type{Int, Float, String, Bool}).Draw(t, "any") }
	switch typ {
	case Int:
		switch rapid.IntRange(0, 9).Draw(t, "int") {
		case 0, 1:
			return fmt.Sprintf("(%s %s %s)", g(Int), rapid.SampledFrom([]string{"+", "-", "*", "%"}).Draw(t, "op"), g(Int))
		case 2:
			return fmt.Sprintf("-(%s)", g(Int))
		case 3:
			return fmt.Sprintf("abs(%s)", g(Int))
		case 4:
			return fmt.Sprintf("length(%s)", g(String))
		case 5:
			return fmt.Sprintf("if(%s, %s, %s)", g(Bool), g(Int), g(Int))
		case 6:
			return fmt.Sprintf("coalesce(%s, %s)", g(Int), g(Int))
		case 7:
			return fmt.Sprintf("case when %s then %s when %s then %s else %s end", g(Bool), g(Int), g(Bool), g(Int), g(Int))
		case 8:
			return fmt.Sprintf("%s(%s, %s, %s)", rapid.SampledFrom([]string{"least", "greatest"}).Draw(t, "f"), g(Int), g(Int), g(Int))
		default:
			return fmt.Sprintf("round(%s)", g(Int))
		}
	case Float:
		switch rapid.IntRange(0, 6).Draw(t, "float") {
		case 0, 1:
			return fmt.Sprintf("(%s %s %s)", g(Float), rapid.SampledFrom([]string{"+", "-", "*", "/", "%"}).Draw(t, "op"), g(num()))
		case 2:
			return fmt.Sprintf("(%s / %s)", g(Int), g(Int))
		case 3:
			return fmt.Sprintf("abs(%s)", g(Float))
		case 4:
			return fmt.Sprintf("coalesce(%s, %s)", g(Float), g(Float))
		case 5:
			return fmt.Sprintf("float(%s)", g(Int))
		default:
			return fmt.Sprintf("round(%s)", g(Float))
		}
	case String:
		switch rapid.IntRange(0, 7).Draw(t, "string") {
		case 0:
			return fmt.Sprintf("lower(%s)", g(String))
		case 1:
			return fmt.Sprintf("upper(%s)", g(String))
		case 2:
			return fmt.Sprintf("concat(%s, %s)", g(String), g(String))
		case 3:
			return fmt.Sprintf("substr(%s, %s, %s)", g(String), g(Int), g(Int))
		case 4:
			return fmt.Sprintf("trim(%s)", g(String))
		case 5:
			return fmt.Sprintf("if(%s, %s, %s)", g(Bool), g(String), g(String))
		case 6:
			return fmt.Sprintf("replace(%s, %s, %s)", g(String), lit(t, String), g(String))
		default:
			return fmt.Sprintf("coalesce(%s, %s)", g(String), g(String))
		}
	}
	// Bool.
	switch rapid.IntRange(0, 11).Draw(t, "bool") {
	case 0, 1:
		ct := any()
		a, b := g(ct), g(ct)
		if ct == Int || ct == Float {
			b = g(num())
		}
		return fmt.Sprintf("(%s %s %s)", a, rapid.SampledFrom([]string{"=", "!=", "<", "<=", ">", ">=", "<>", "=="}).Draw(t, "cmp"), b)
	case 2:
		return fmt.Sprintf("(%s and %s)", g(Bool), g(Bool))
	case 3:
		return fmt.Sprintf("(%s or %s)", g(Bool), g(Bool))
	case 4:
		return fmt.Sprintf("not (%s)", g(Bool))
	case 5:
		return fmt.Sprintf("(%s is %snull)", g(any()), rapid.SampledFrom([]string{"", "not "}).Draw(t, "not"))
	case 6:
		ct := any()
		var list []string
		for k := rapid.IntRange(1, 12).Draw(t, "n"); k > 0; k-- {
			if rapid.IntRange(0, 4).Draw(t, "nonconst") == 0 {
				list = append(list, g(ct))
			} else {
				list = append(list, lit(t, ct))
			}
		}
		return fmt.Sprintf("(%s %sin (%s))", g(ct), rapid.SampledFrom([]string{"", "not "}).Draw(t, "not"), strings.Join(list, ", "))
	case 7:
		ct := num()
		return fmt.Sprintf("(%s %sbetween %s and %s)", g(ct), rapid.SampledFrom([]string{"", "not "}).Draw(t, "not"), g(ct), g(ct))
	case 8:
		return fmt.Sprintf("(%s %slike %s)", g(String), rapid.SampledFrom([]string{"", "not "}).Draw(t, "not"),
			rapid.SampledFrom([]string{"'a%'", "'%b'", "'%b%'", "'_'", "'a_%b'", "'ab'", "'%'", "''"}).Draw(t, "pat"))
	case 9:
		return fmt.Sprintf("contains(%s, %s)", g(String), g(String))
	case 10:
		return fmt.Sprintf("starts_with(%s, %s)", g(String), g(String))
	default:
		return fmt.Sprintf("coalesce(%s, %s)", g(Bool), g(Bool))
	}
}

func genRows(t *rapid.T, n int) []map[string]any {
	rows := make([]map[string]any, n)
	null := func() bool { return rapid.IntRange(0, 5).Draw(t, "isnull") == 0 }
	for k := range rows {
		r := map[string]any{}
		if !null() {
			r["i1"] = rapid.SampledFrom(genInts).Draw(t, "i1")
		}
		if !null() {
			r["i2"] = rapid.Int64Range(-5, 5).Draw(t, "i2")
		}
		if !null() {
			r["f1"] = rapid.SampledFrom(genFloats).Draw(t, "f1")
		}
		if !null() {
			r["s1"] = rapid.SampledFrom(genStrings).Draw(t, "s1")
		}
		if !null() {
			r["s2"] = rapid.SampledFrom(genStrings).Draw(t, "s2")
		}
		if !null() {
			r["b1"] = rapid.Bool().Draw(t, "b1")
		}
		rows[k] = r
	}
	return rows
}

// TestEvalMatchesReference compares the vectorized program with the
// row-wise reference over random expressions and random batches (several
// batches per program, some sliced so bitmaps start at an offset).
func TestEvalMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		typ := rapid.SampledFrom([]Type{Int, Float, String, Bool, Bool}).Draw(t, "type")
		src := genExpr(t, typ, rapid.IntRange(1, 4).Draw(t, "depth"))
		p, err := Compile(src, propSchema)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for range rapid.IntRange(1, 3).Draw(t, "batches") {
			n := rapid.IntRange(0, 140).Draw(t, "rows")
			rows := genRows(t, n)
			full, err := batch.FromRows(mem, propSchema, rows)
			if err != nil {
				t.Fatal(err)
			}
			off := 0
			if n > 0 {
				off = rapid.IntRange(0, min(n, 11)).Draw(t, "offset")
			}
			b := full.NewSlice(int64(off), int64(n))
			full.Release()
			rows = rows[off:]
			arr, err := p.Eval(mem, b)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			got := arrayValues(arr)
			arr.Release()
			for k, row := range rows {
				want := refEval(p.Expr().Root, row)
				if p.ResultType() == Float {
					if iv, ok := want.(int64); ok {
						want = float64(iv)
					}
				}
				if !sameValue(got[k], want) {
					b.Release()
					t.Fatalf("%s\nrow %d %v: got %#v, want %#v", src, k, row, got[k], want)
				}
			}
			if p.ResultType() == Bool || p.ResultType() == Null {
				bits := make([]byte, (len(rows)+7)/8)
				if err := p.Select(mem, b, bits); err != nil {
					t.Fatal(err)
				}
				for k := range rows {
					if getBit(bits, k) != (got[k] == true) {
						b.Release()
						t.Fatalf("%s\nSelect row %d = %v, Eval %v", src, k, getBit(bits, k), got[k])
					}
				}
			}
			b.Release()
		}
		if mem.CurrentAlloc() != 0 {
			t.Fatalf("%s: %d bytes leaked", src, mem.CurrentAlloc())
		}
	})
}
