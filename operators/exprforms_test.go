package operators

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestFilterExprReference runs filter.apply's expr form over random
// batches with nulls and checks the kept rows against conditions written
// in Go, row by row (SQL semantics: a null condition drops the row).
func TestFilterExprReference(t *testing.T) {
	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		}
		return 0, false
	}
	cases := []struct {
		expr string
		ref  func(r []any) bool // r in mixedSchema order
	}{
		{"i64 > 3", func(r []any) bool { v, ok := num(r[0]); return ok && v > 3 }},
		{"i64 >= 2 and f64 < 1", func(r []any) bool {
			a, ok1 := num(r[0])
			b, ok2 := num(r[2])
			return ok1 && ok2 && a >= 2 && b < 1
		}},
		// or: true wins over null.
		{"i64 > 5 or s = 'apple'", func(r []any) bool {
			a, ok := num(r[0])
			return (ok && a > 5) || r[4] == "apple"
		}},
		{"s in ('a', '日本語', 'zürich')", func(r []any) bool { return r[4] == "a" || r[4] == "日本語" || r[4] == "zürich" }},
		{"not (s in ('a', 'b'))", func(r []any) bool { return r[4] != nil && r[4] != "a" && r[4] != "b" }},
		{"s is null", func(r []any) bool { return r[4] == nil }},
		{"i32 between -2 and 2", func(r []any) bool { v, ok := num(r[1]); return ok && v >= -2 && v <= 2 }},
		{"length(s) = 5", func(r []any) bool { s, ok := r[4].(string); return ok && len([]rune(s)) == 5 }},
		{"upper(s) = 'APPLE'", func(r []any) bool { s, ok := r[4].(string); return ok && strings.ToUpper(s) == "APPLE" }},
		{"b", func(r []any) bool { return r[6] == true }},
		{"coalesce(i64, 100) > 50", func(r []any) bool { return r[0] == nil }},
		{"ts >= timestamp '2024-01-01T12:00:00Z'", func(r []any) bool {
			ts, ok := r[7].(time.Time)
			return ok && !ts.Before(epoch.Add(12*time.Hour))
		}},
		{"u8 * 2 > 300", func(r []any) bool { v, ok := num(r[9]); return ok && v*2 > 300 }},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	data := [][][]any{mixedRows(rng, 300), mixedRows(rng, 1), mixedRows(rng, 77), {}, mixedRows(rng, 64)}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			var in []arrow.RecordBatch
			var want [][]any
			for _, rows := range data {
				in = append(in, build(t, mem, mixedSchema, rows...))
			}
			for _, b := range in {
				for _, r := range rowsOf([]arrow.RecordBatch{b}) {
					if c.ref(r) {
						want = append(want, r)
					}
				}
			}
			res, err := run(FilterSpec(), mem, map[string]any{"expr": c.expr}, in...)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			got := rowsOf(res.Output)
			if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
				t.Errorf("kept %d rows, want %d", len(got), len(want))
			}
		})
	}
}

// TestMapColumnsSequential checks that each entry sees the ones above it
// and that a replaced column keeps its position.
func TestMapColumnsSequential(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(7, 8))
	rows := mixedRows(rng, 200)
	in := []arrow.RecordBatch{build(t, mem, mixedSchema, rows[:150]...), build(t, mem, mixedSchema, rows[150:]...)}
	cfg := map[string]any{
		"columns":          map[string]any{"x": "i64 * 2", "y": "x + i32", "i64": "-i64"},
		"columns\x00order": []string{"x", "y", "i64"},
	}
	res, err := run(MapSpec(), mem, cfg, in...)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	got := rowsOf(res.Output)
	if len(got) != len(rows) {
		t.Fatalf("%d rows", len(got))
	}
	s := res.Output[0].Schema()
	if s.NumFields() != mixedSchema.NumFields()+2 || s.Field(0).Name != "i64" || s.Field(10).Name != "x" || s.Field(11).Name != "y" {
		t.Fatalf("schema %v", s)
	}
	for i, r := range rows {
		var wantI, wantX, wantY any
		if a, ok := r[0].(int); ok {
			wantI, wantX = int64(-a), int64(2*a)
			if b, ok := r[1].(int); ok {
				wantY = int64(2*a + b)
			}
		}
		if got[i][0] != wantI || got[i][10] != wantX || got[i][11] != wantY {
			t.Fatalf("row %d (%v): i64=%v x=%v y=%v, want %v %v %v", i, r[:2], got[i][0], got[i][10], got[i][11], wantI, wantX, wantY)
		}
	}
}
