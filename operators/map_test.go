package operators

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

var numSchema = arrow.NewSchema([]arrow.Field{
	{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "prix unitaire", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// numRows returns n random rows of numSchema: small values and zeros, some
// values near the int64 limits (to overflow), about 1 in 8 null.
func numRows(rng *rand.Rand, n int) [][]any {
	rows := make([][]any, n)
	big := []int{math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, math.MinInt64 / 3, 1 << 32}
	pickInt := func() any {
		if rng.IntN(6) == 0 {
			return big[rng.IntN(len(big))]
		}
		return rng.IntN(11) - 5
	}
	for r := range rows {
		row := []any{pickInt(), pickInt(), rng.IntN(9) - 4, float64(rng.IntN(17)-8) / 2, float64(rng.IntN(9)-4) / 4, float64(rng.IntN(5)), "é"}
		for c := range row {
			if rng.IntN(8) == 0 {
				row[c] = nil
			}
		}
		rows[r] = row
	}
	return rows
}

// refArith computes one row of "l op r" by hand: nil for null, division
// by zero or int64 overflow (checked with math/big).
func refArith(l, r any, op byte, intResult bool) any {
	if l == nil || r == nil {
		return nil
	}
	if intResult {
		x, y := big.NewInt(l.(int64)), big.NewInt(r.(int64))
		z := new(big.Int)
		switch op {
		case '+':
			z.Add(x, y)
		case '-':
			z.Sub(x, y)
		case '*':
			z.Mul(x, y)
		case '%':
			if y.Sign() == 0 {
				return nil
			}
			z.Rem(x, y) // truncated, like Go's %
		}
		if !z.IsInt64() {
			return nil
		}
		return z.Int64()
	}
	f := func(v any) float64 {
		if i, ok := v.(int64); ok {
			return float64(i)
		}
		return v.(float64)
	}
	x, y := f(l), f(r)
	switch op {
	case '+':
		return x + y
	case '-':
		return x - y
	case '*':
		return x * y
	case '/':
		if y == 0 {
			return nil
		}
		return x / y
	case '%':
		if y == 0 {
			return nil
		}
		return math.Mod(x, y)
	}
	panic(op)
}

func TestMapReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rows := [][][]any{numRows(rng, 200), numRows(rng, 1), numRows(rng, 45)}
	type side struct {
		text string
		col  int  // -1: literal
		lit  any  // literal value
		isI  bool // integer-valued
	}
	sides := []side{
		{"a", 0, nil, true}, {"b", 1, nil, true}, {"i32", 2, nil, true}, {"x", 3, nil, false},
		{"f32", 4, nil, false}, {`"prix unitaire"`, 5, nil, false},
		{"3", -1, int64(3), true}, {"0", -1, int64(0), true}, {"-2", -1, int64(-2), true}, {"1.5", -1, 1.5, false}, {"0.0", -1, 0.0, false},
	}
	spec := MapSpec()
	for _, l := range sides {
		for _, r := range sides {
			for _, op := range []byte{'+', '-', '*', '/', '%'} {
				if l.col < 0 && r.col < 0 && op == '/' && r.lit == int64(0) {
					continue
				}
				expr := l.text + " " + string(op) + " " + r.text
				t.Run(expr, func(t *testing.T) {
					mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
					defer mem.AssertSize(t, 0)
					intResult := l.isI && r.isI && op != '/'
					var inputs []arrow.RecordBatch
					var want []any
					for i, rs := range rows {
						b := build(t, mem, numSchema, rs...)
						if i == 0 {
							s := b.NewSlice(5, 197)
							b.Release()
							b = s
						}
						inputs = append(inputs, b)
						for _, row := range rowsOf([]arrow.RecordBatch{b}) {
							lv, rv := l.lit, r.lit
							if l.col >= 0 {
								lv = row[l.col]
							}
							if r.col >= 0 {
								rv = row[r.col]
							}
							want = append(want, refArith(lv, rv, op, intResult))
						}
					}
					res, err := run(spec, mem, map[string]any{"expression": expr, "output_column": "out"}, inputs...)
					if err != nil {
						t.Fatal(err)
					}
					defer res.Release()
					var got []any
					for _, b := range res.Output {
						if int(b.NumCols()) != numSchema.NumFields()+1 || b.Schema().Field(int(b.NumCols())-1).Name != "out" {
							t.Fatalf("schema %s", b.Schema())
						}
						wantType := arrow.DataType(arrow.PrimitiveTypes.Float64)
						if intResult {
							wantType = arrow.PrimitiveTypes.Int64
						}
						if dt := b.Column(int(b.NumCols()) - 1).DataType(); !arrow.TypeEqual(dt, wantType) {
							t.Fatalf("result type %s, want %s", dt, wantType)
						}
						for _, row := range rowsOf([]arrow.RecordBatch{b}) {
							got = append(got, row[len(row)-1])
						}
					}
					if len(got) != len(want) {
						t.Fatalf("%d rows, want %d", len(got), len(want))
					}
					for i := range got {
						if !sameCell(got[i], want[i]) {
							t.Fatalf("row %d: %v, want %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

func TestMapEdgeCases(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "naïve", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rows := [][]any{{int(math.MaxInt64), 1.5, "ü"}, {nil, 2.0, "b"}, {1, nil, "日本"}}
	cases := []struct {
		name, expr, out string
		wantCols        []string
		want            []any // the output column
	}{
		{"overflow gives null", "clicks + 1", "next", []string{"clicks", "naïve", "page", "next"}, []any{nil, nil, int64(2)}},
		{"replace in place", "clicks * 2", "clicks", []string{"clicks", "naïve", "page"}, []any{nil, nil, int64(2)}},
		{"unicode column", "naïve * 2", "double", []string{"clicks", "naïve", "page", "double"}, []any{3.0, 4.0, nil}},
		{"copy a column", "page", "p2", []string{"clicks", "naïve", "page", "p2"}, []any{"ü", "b", "日本"}},
		{"literal", "2.5", "k", []string{"clicks", "naïve", "page", "k"}, []any{2.5, 2.5, 2.5}},
		{"int literal", "7", "k", []string{"clicks", "naïve", "page", "k"}, []any{int64(7), int64(7), int64(7)}},
		{"divide by zero literal", "naïve / 0", "q", []string{"clicks", "naïve", "page", "q"}, []any{nil, nil, nil}},
		{"min int mod -1", "clicks % -1", "m", []string{"clicks", "naïve", "page", "m"}, []any{int64(0), nil, int64(0)}},
		{"no spaces", "clicks-1", "m", []string{"clicks", "naïve", "page", "m"}, []any{int64(math.MaxInt64 - 1), nil, int64(0)}},
		{"exponent literal", "naïve*1e2", "m", []string{"clicks", "naïve", "page", "m"}, []any{150.0, 200.0, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			in := build(t, mem, schema, rows...)
			res, err := run(MapSpec(), mem, map[string]any{"expression": c.expr, "output_column": c.out}, in)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			if len(res.Output) != 1 {
				t.Fatalf("%d batches", len(res.Output))
			}
			var names []string
			for _, f := range res.Output[0].Schema().Fields() {
				names = append(names, f.Name)
			}
			if len(names) != len(c.wantCols) {
				t.Fatalf("columns %v, want %v", names, c.wantCols)
			}
			for i := range names {
				if names[i] != c.wantCols[i] {
					t.Fatalf("columns %v, want %v", names, c.wantCols)
				}
			}
			idx := res.Output[0].Schema().FieldIndices(c.out)[0]
			for i, row := range rowsOf(res.Output) {
				if !sameCell(row[idx], c.want[i]) {
					t.Fatalf("row %d: %v, want %v", i, row[idx], c.want[i])
				}
			}
		})
	}
}

func TestMapEmptyAndMin(t *testing.T) {
	// Overflow boundaries of *, including MinInt64 * -1.
	for _, c := range [][3]int64{{math.MinInt64, -1, 0}, {math.MaxInt64, 1, math.MaxInt64}, {1 << 32, 1 << 31, 0}, {-(1 << 32), 1 << 31, math.MinInt64}, {3037000500, 3037000500, 0}} {
		ov := mulOverflow(c[0], c[1]) != 0
		want := new(big.Int).Mul(big.NewInt(c[0]), big.NewInt(c[1]))
		if ov == want.IsInt64() {
			t.Errorf("mulOverflow(%d, %d) = %v, big says fits=%v", c[0], c[1], ov, want.IsInt64())
		}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := run(MapSpec(), mem, map[string]any{"expression": "a * b", "output_column": "c"}, build(t, mem, numSchema))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Output) != 0 {
		t.Fatalf("empty input gave %d batches", len(res.Output))
	}
}

func TestMapErrors(t *testing.T) {
	cases := []struct {
		name   string
		cfg    map[string]any
		target error
		frags  []string
	}{
		{"unknown column", map[string]any{"expression": "a * bb", "output_column": "c"}, ErrUnknownColumn, []string{`"bb"`, `did you mean "b"`}},
		{"string column", map[string]any{"expression": "name + 1", "output_column": "c"}, ErrTypeMismatch, []string{`column "name"`}},
		{"two operations", map[string]any{"expression": "a + b + 1", "output_column": "c"}, flow.ErrInvalidPipeline, []string{"one operation"}},
		{"bad operator", map[string]any{"expression": "a ^ b", "output_column": "c"}, flow.ErrInvalidPipeline, []string{"expected one of"}},
		{"empty", map[string]any{"expression": "", "output_column": "c"}, flow.ErrInvalidPipeline, []string{"expected a column"}},
		{"unterminated quote", map[string]any{"expression": `"a * b`, "output_column": "c"}, flow.ErrInvalidPipeline, []string{"unterminated"}},
		{"missing output", map[string]any{"expression": "a * b"}, flow.ErrInvalidPipeline, []string{`"output_column"`}},
		{"columns: unknown column", map[string]any{"columns": map[string]any{"c": "a * bb"}}, expr.ErrUnknownColumn, []string{"columns.c", `unknown column "bb"`}},
		{"columns: syntax", map[string]any{"columns": map[string]any{"c": "a * (b"}}, expr.ErrSyntax, []string{"columns.c"}},
		{"both forms", map[string]any{"columns": map[string]any{"c": "a"}, "expression": "a", "output_column": "c"}, flow.ErrInvalidPipeline, []string{"not both"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			res, err := run(MapSpec(), mem, c.cfg, build(t, mem, numSchema, numRows(rand.New(rand.NewPCG(1, 1)), 3)...))
			if err == nil {
				res.Release()
			}
			wantErr(t, err, c.target, c.frags...)
		})
	}
}

func BenchmarkMapPriceQty(b *testing.B) {
	const n = 64 * 1024
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	rng := rand.New(rand.NewPCG(9, 10))
	pb, qb := array.NewFloat64Builder(mem), array.NewInt64Builder(mem)
	for range n {
		pb.Append(rng.Float64() * 100)
		qb.Append(int64(rng.IntN(10)))
	}
	p, q := pb.NewArray(), qb.NewArray()
	pb.Release()
	qb.Release()
	in := array.NewRecordBatch(schema, []arrow.Array{p, q}, n)
	p.Release()
	q.Release()
	defer in.Release()
	for _, bc := range []struct{ name, expr string }{{"float*int", "price * qty"}, {"int*int", "qty * qty"}, {"float*float", "price * price"}} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := parseArith(bc.expr)
			if err != nil {
				b.Fatal(err)
			}
			m := &mapOp{output: "total", bind: a.bind}
			st := &flow.Stage{Alloc: mem}
			b.ReportAllocs()
			b.SetBytes(n * 8)
			for b.Loop() {
				out, err := m.Transform(b.Context(), st, in)
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
		})
	}
}
