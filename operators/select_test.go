package operators

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

func TestSelect(t *testing.T) {
	names := func(s *arrow.Schema) []string {
		var out []string
		for _, f := range s.Fields() {
			out = append(out, f.Name)
		}
		return out
	}
	cases := []struct {
		name     string
		cfg      map[string]any
		wantCols []string
		from     []string // input column each output column is
	}{
		{"keep and reorder", map[string]any{"columns": []any{"s", "i64"}}, []string{"s", "i64"}, []string{"s", "i64"}},
		{"single string", map[string]any{"columns": "ts"}, []string{"ts"}, []string{"ts"}},
		{"drop", map[string]any{"drop": []any{"i32", "f32", "ls", "b", "ts", "d", "u8"}}, []string{"i64", "f64", "s"}, []string{"i64", "f64", "s"}},
		{"rename", map[string]any{"columns": []any{"f64", "s"}, "rename": map[string]any{"s": "libellé"}}, []string{"f64", "libellé"}, []string{"f64", "s"}},
		{"keep, drop, rename", map[string]any{"columns": []any{"b", "s", "d"}, "drop": "d", "rename": map[string]any{"b": "flag", "s": "b"}}, []string{"flag", "b"}, []string{"b", "s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rng := rand.New(rand.NewPCG(11, 12))
			var inputs []arrow.RecordBatch
			var want [][]any
			for _, n := range []int{20, 1, 0, 9} {
				b := build(t, mem, mixedSchema, mixedRows(rng, n)...)
				b.Retain() // kept to check zero-copy
				defer b.Release()
				inputs = append(inputs, b)
				for _, r := range rowsOf([]arrow.RecordBatch{b}) {
					var w []any
					for _, f := range c.from {
						w = append(w, r[mixedSchema.FieldIndices(f)[0]])
					}
					want = append(want, w)
				}
			}
			res, err := run(SelectSpec(), mem, c.cfg, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			if len(res.Output) != 3 {
				t.Fatalf("%d batches out, want 3 (the empty one is dropped)", len(res.Output))
			}
			for _, b := range res.Output {
				if got := names(b.Schema()); !slices.Equal(got, c.wantCols) {
					t.Fatalf("columns %v, want %v", got, c.wantCols)
				}
			}
			// Zero-copy: each output column is the input's array.
			for bi, in := range []arrow.RecordBatch{inputs[0], inputs[1], inputs[3]} {
				for ci, f := range c.from {
					if res.Output[bi].Column(ci) != in.Column(mixedSchema.FieldIndices(f)[0]) {
						t.Fatalf("batch %d column %d was copied", bi, ci)
					}
				}
			}
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

func TestSelectIdentityPassesThrough(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := build(t, mem, mixedSchema, mixedRows(rand.New(rand.NewPCG(1, 3)), 4)...)
	in.Retain()
	defer in.Release()
	all := make([]any, mixedSchema.NumFields())
	for i, f := range mixedSchema.Fields() {
		all[i] = f.Name
	}
	res, err := run(SelectSpec(), mem, map[string]any{"columns": all}, in)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Output) != 1 || res.Output[0] != in {
		t.Fatal("identity select did not pass the batch through")
	}
}

func TestSelectErrors(t *testing.T) {
	cases := []struct {
		name   string
		cfg    map[string]any
		target error
		frags  []string
	}{
		{"unknown in columns", map[string]any{"columns": []any{"s", "i6"}}, ErrUnknownColumn, []string{`"i6"`, `did you mean "i64"`}},
		{"unknown in drop", map[string]any{"drop": []any{"f46"}}, ErrUnknownColumn, []string{`"f46"`, "in drop"}},
		{"unknown in rename", map[string]any{"rename": map[string]any{"tss": "t"}}, ErrUnknownColumn, []string{`did you mean "ts"`, "in rename"}},
		{"rename collides", map[string]any{"rename": map[string]any{"i64": "i32"}}, ErrDuplicateColumn, []string{`"i32"`}},
		{"listed twice", map[string]any{"columns": []any{"s", "s"}}, ErrDuplicateColumn, []string{`"s"`}},
		{"rename a dropped column", map[string]any{"drop": "s", "rename": map[string]any{"s": "t"}}, nil, []string{`"s" is not in the output`}},
		{"nothing to do", map[string]any{}, flow.ErrInvalidPipeline, []string{"at least one"}},
		{"rename to a number", map[string]any{"rename": map[string]any{"s": int64(1)}}, flow.ErrInvalidPipeline, []string{"non-empty string"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			res, err := run(SelectSpec(), mem, c.cfg, build(t, mem, mixedSchema, mixedRows(rand.New(rand.NewPCG(2, 2)), 3)...))
			if err == nil {
				res.Release()
			}
			wantErr(t, err, c.target, c.frags...)
		})
	}
}
