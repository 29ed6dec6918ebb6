package operators

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

var tsUnit = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// mixedSchema has one column of each type filter.apply compares.
var mixedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: tsUnit, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
}, nil)

var words = []string{"", "a", "apple", "Apple", "banana", "héllo", "日本語", "zürich", "ab", "b"}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// mixedRows returns n random rows of mixedSchema, about 1 in 8 values null.
func mixedRows(rng *rand.Rand, n int) [][]any {
	rows := make([][]any, n)
	for r := range rows {
		row := []any{
			rng.IntN(21) - 10,
			rng.IntN(21) - 10,
			float64(rng.IntN(41)-20) / 4,
			float64(rng.IntN(41)-20) / 4,
			words[rng.IntN(len(words))],
			words[rng.IntN(len(words))],
			rng.IntN(2) == 0,
			epoch.Add(time.Duration(rng.IntN(48)) * 30 * time.Minute),
			epoch.AddDate(0, 0, rng.IntN(10)),
			rng.IntN(256),
		}
		for c := range row {
			if rng.IntN(8) == 0 {
				row[c] = nil
			}
		}
		rows[r] = row
	}
	return rows
}

// refCompare is the row-by-row reference: does value v (a cell, nil for
// null) satisfy "v op k"? k is the test's constant in Go form: int64,
// float64, string, bool, time.Time, or []any for "in".
func refCompare(v any, op string, k any) bool {
	if v == nil {
		return false
	}
	if op == "in" {
		for _, e := range k.([]any) {
			if refCompare(v, "==", e) {
				return true
			}
		}
		return false
	}
	var c int // sign of v - k
	switch x := v.(type) {
	case int64:
		switch y := k.(type) {
		case int64:
			c = cmp3(float64(x), float64(y))
		case float64:
			c = cmp3(float64(x), y)
		}
	case float64:
		var y float64
		switch kk := k.(type) {
		case int64:
			y = float64(kk)
		case float64:
			y = kk
		}
		if math.IsNaN(x) || math.IsNaN(y) {
			return op == "!=" || op == "<>"
		}
		c = cmp3(x, y)
	case string:
		if op == "contains" {
			return strings.Contains(x, k.(string))
		}
		c = strings.Compare(x, k.(string))
	case bool:
		if x == k.(bool) {
			c = 0
		} else {
			c = 1 // only == and != are used
		}
	case time.Time:
		c = x.Compare(k.(time.Time))
	}
	switch op {
	case "==", "=":
		return c == 0
	case "!=", "<>":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	panic(op)
}

func cmp3(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type filterCase struct {
	column, op string
	value      any // TOML form
	ref        any // reference form (defaults to value)
}

func filterCases() []filterCase {
	var cs []filterCase
	ops := []string{"==", "=", "!=", "<>", "<", "<=", ">", ">="}
	for _, op := range ops {
		cs = append(cs,
			filterCase{column: "i64", op: op, value: int64(3)},
			filterCase{column: "i64", op: op, value: 2.5},   // int column vs float value
			filterCase{column: "i64", op: op, value: -3.0},  // integral float
			filterCase{column: "i64", op: op, value: 1e30},  // beyond int64
			filterCase{column: "i32", op: op, value: -2.25}, // int32 vs float
			filterCase{column: "i32", op: op, value: int64(1) << 40},
			filterCase{column: "u8", op: op, value: int64(-1)},
			filterCase{column: "u8", op: op, value: 127.5},
			filterCase{column: "f64", op: op, value: int64(2)}, // float column vs int value
			filterCase{column: "f64", op: op, value: 1.25},
			filterCase{column: "f64", op: op, value: math.NaN()},
			filterCase{column: "f32", op: op, value: -0.75},
			filterCase{column: "s", op: op, value: "apple"},
			filterCase{column: "s", op: op, value: "héllo"},
			filterCase{column: "ls", op: op, value: "b"},
			filterCase{column: "ts", op: op, value: "2024-01-01T12:00:00Z", ref: epoch.Add(12 * time.Hour)},
			filterCase{column: "ts", op: op, value: "2024-01-01T13:00:00+02:00", ref: epoch.Add(11 * time.Hour)},
			filterCase{column: "ts", op: op, value: "2024-01-01T12:00:00.0005Z", ref: epoch.Add(12*time.Hour + 500*time.Microsecond)},
			filterCase{column: "ts", op: op, value: epoch.Add(6 * time.Hour).UnixMilli(), ref: epoch.Add(6 * time.Hour)},
			filterCase{column: "ts", op: op, value: epoch.Add(90 * time.Minute), ref: epoch.Add(90 * time.Minute)},
			filterCase{column: "d", op: op, value: "2024-01-05", ref: epoch.AddDate(0, 0, 4)},
			filterCase{column: "d", op: op, value: "2024-01-05T12:00:00Z", ref: epoch.AddDate(0, 0, 4).Add(12 * time.Hour)},
		)
	}
	for _, op := range []string{"==", "!="} {
		cs = append(cs, filterCase{column: "b", op: op, value: true}, filterCase{column: "b", op: op, value: false})
	}
	cs = append(cs,
		filterCase{column: "s", op: "contains", value: "pp"},
		filterCase{column: "s", op: "contains", value: "ü"},
		filterCase{column: "s", op: "contains", value: ""},
		filterCase{column: "ls", op: "contains", value: "日本"},
		filterCase{column: "i64", op: "in", value: []any{int64(1), int64(-4), 2.5, 7.0}},
		filterCase{column: "i64", op: "in", value: []any{int64(0), int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9)}},
		filterCase{column: "f64", op: "in", value: []any{int64(1), 2.5}},
		filterCase{column: "s", op: "in", value: []any{"a", "日本語", "zürich"}},
		filterCase{column: "s", op: "in", value: []any{}},
		filterCase{column: "b", op: "in", value: []any{true, false}},
		filterCase{column: "ts", op: "in", value: []any{"2024-01-01T00:00:00Z", "2024-01-01T00:30:00Z"}, ref: []any{epoch, epoch.Add(30 * time.Minute)}},
	)
	return cs
}

// TestFilterReference checks every operator on every column type against
// the row-by-row reference, over several batches (one of them a slice at
// an unaligned offset) with nulls.
func TestFilterReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := [][][]any{mixedRows(rng, 300), mixedRows(rng, 1), mixedRows(rng, 77), mixedRows(rng, 64)}
	spec := FilterSpec()
	for _, c := range filterCases() {
		name := c.column + " " + c.op + " " + strings.ReplaceAll(describeValue(c.value), "/", "_")
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			var inputs []arrow.RecordBatch
			var want [][]any
			ref := c.ref
			if ref == nil {
				ref = c.value
			}
			col := mixedSchema.FieldIndices(c.column)[0]
			for i, rs := range rows {
				b := build(t, mem, mixedSchema, rs...)
				if i == 0 { // unaligned slice: rows 3..290
					s := b.NewSlice(3, 290)
					b.Release()
					b, rs = s, rs[3:290]
				}
				inputs = append(inputs, b)
				for _, r := range rowsOf([]arrow.RecordBatch{b}) {
					if refCompare(r[col], c.op, ref) {
						want = append(want, r)
					}
				}
			}
			res, err := run(spec, mem, map[string]any{"column": c.column, "operator": c.op, "value": c.value}, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			got := rowsOf(res.Output)
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range got {
				for j := range got[i] {
					if !sameCell(got[i][j], want[i][j]) {
						t.Fatalf("row %d col %d: %v, want %v", i, j, got[i][j], want[i][j])
					}
				}
			}
		})
	}
}

func sameCell(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	if fa, ok := a.(float64); ok && math.IsNaN(fa) {
		fb, ok := b.(float64)
		return ok && math.IsNaN(fb)
	}
	return a == b
}

var amountSchema = arrow.NewSchema([]arrow.Field{{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)

func TestFilterFastPaths(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := FilterSpec()
	cfg := map[string]any{"column": "amount", "operator": ">", "value": int64(10)}

	// All pass: the input batch itself comes back (Retained).
	all := build(t, mem, amountSchema, []any{11.0}, []any{12.5})
	all.Retain()
	defer all.Release()
	none := build(t, mem, amountSchema, []any{1.0}, []any{nil})
	empty := build(t, mem, amountSchema)
	some := build(t, mem, amountSchema, []any{1.0}, []any{20.0}, []any{nil}, []any{10.0})
	res, err := run(spec, mem, cfg, all, none, empty, some)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Output) != 2 {
		t.Fatalf("%d batches out, want 2 (all-pass and some)", len(res.Output))
	}
	if res.Output[0] != all {
		t.Error("all-pass batch was copied, want the input passed through")
	}
	if got := rowsOf(res.Output[1:]); len(got) != 1 || got[0][0] != 20.0 {
		t.Errorf("some: got %v, want [[20]]", got)
	}
}

func TestFilterErrors(t *testing.T) {
	spec := FilterSpec()
	mixed := func(mem memory.Allocator) arrow.RecordBatch {
		return build(t, mem, mixedSchema, mixedRows(rand.New(rand.NewPCG(3, 4)), 5)...)
	}
	cases := []struct {
		name   string
		cfg    map[string]any
		target error
		frags  []string
	}{
		{"unknown column", map[string]any{"column": "i65", "operator": ">", "value": int64(1)}, ErrUnknownColumn, []string{`"i65"`, `did you mean "i64"`}},
		{"string column vs number", map[string]any{"column": "s", "operator": "==", "value": int64(1)}, ErrTypeMismatch, []string{`column "s"`, "not a string"}},
		{"number column vs string", map[string]any{"column": "f64", "operator": "==", "value": "1"}, ErrTypeMismatch, []string{`column "f64"`}},
		{"contains on a number", map[string]any{"column": "i64", "operator": "contains", "value": "1"}, ErrTypeMismatch, []string{`column "i64"`, "contains"}},
		{"ordering a bool", map[string]any{"column": "b", "operator": ">", "value": true}, ErrTypeMismatch, []string{`column "b"`}},
		{"bad timestamp", map[string]any{"column": "ts", "operator": ">", "value": "yesterday"}, ErrTypeMismatch, []string{`column "ts"`, "RFC 3339"}},
		{"in with a string for ints", map[string]any{"column": "i64", "operator": "in", "value": []any{int64(1), "x"}}, ErrTypeMismatch, []string{`column "i64"`}},
		{"expr: unknown column", map[string]any{"expr": "amount > 1"}, expr.ErrUnknownColumn, []string{"expr", `unknown column "amount"`}},
		{"expr: not a condition", map[string]any{"expr": "i64 + 1"}, ErrTypeMismatch, []string{"not true/false"}},
		{"expr: syntax", map[string]any{"expr": "i64 >"}, expr.ErrSyntax, []string{"column 6"}},
		{"expr: string vs int", map[string]any{"expr": "s > 1"}, expr.ErrType, []string{"cannot compare string with int"}},
		{"expr and column", map[string]any{"expr": "amount > 1", "column": "i64"}, flow.ErrInvalidPipeline, []string{"not both"}},
		{"missing value", map[string]any{"column": "i64", "operator": ">"}, flow.ErrInvalidPipeline, []string{`"value"`}},
		{"in without list", map[string]any{"column": "i64", "operator": "in", "value": int64(1)}, flow.ErrInvalidPipeline, []string{"needs a list"}},
		{"list without in", map[string]any{"column": "i64", "operator": "==", "value": []any{int64(1)}}, flow.ErrInvalidPipeline, []string{`needs operator "in"`}},
		{"bad operator", map[string]any{"column": "i64", "operator": "=>", "value": int64(1)}, flow.ErrInvalidPipeline, []string{"not allowed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			res, err := run(spec, mem, c.cfg, mixed(mem))
			if err == nil {
				res.Release()
			}
			wantErr(t, err, c.target, c.frags...)
		})
	}
}

// TestFilterSchemaChange rebinds when the schema changes between batches.
func TestFilterSchemaChange(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	intSchema := arrow.NewSchema([]arrow.Field{{Name: "amount", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	a := build(t, mem, amountSchema, []any{5.5}, []any{20.5})
	b := build(t, mem, intSchema, []any{5}, []any{20}, []any{nil})
	res, err := run(FilterSpec(), mem, map[string]any{"column": "amount", "operator": ">=", "value": 10.5}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	got := rowsOf(res.Output)
	if len(got) != 2 || got[0][0] != 20.5 || got[1][0] != int64(20) {
		t.Fatalf("got %v", got)
	}
}

func BenchmarkFilterFloat64(b *testing.B) {
	const n = 64 * 1024
	mem := memory.NewGoAllocator()
	fb := array.NewFloat64Builder(mem)
	rng := rand.New(rand.NewPCG(5, 6))
	for range n {
		fb.Append(rng.Float64() * 20)
	}
	arr := fb.NewArray()
	fb.Release()
	in := array.NewRecordBatch(amountSchema, []arrow.Array{arr}, n)
	arr.Release()
	defer in.Release()
	f := &filterOp{bind: comparison{column: "amount", op: opGt, value: int64(10)}.bind}
	st := &flow.Stage{Alloc: mem}
	b.ReportAllocs()
	b.SetBytes(n * 8)
	for b.Loop() {
		out, err := f.Transform(b.Context(), st, in)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
}
