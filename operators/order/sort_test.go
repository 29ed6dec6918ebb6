package order

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// trow is one test row; nil pointers are nulls.
type trow struct {
	id int64
	k  *int32
	s  *string
	f  *float64
	b  *bool
	ts *int64
	u  *uint64
}

var words = []string{"", "a", "ab", "abc", "Zoé", "Émile", "日本", "日本語", "z", "zz", "aaaaaaaaa", "aaaaaaaab", "aaaaaaaa", "ab\x00"}

func ptr[T any](v T) *T { return &v }

// genRows makes n random rows with few distinct keys (many ties) and
// nulls in every key column.
func genRows(r *rand.Rand, n int) []trow {
	rows := make([]trow, n)
	for i := range rows {
		t := trow{id: int64(i)}
		if r.IntN(8) != 0 {
			t.k = ptr(int32(r.IntN(7) - 3))
		}
		if r.IntN(8) != 0 {
			t.s = ptr(words[r.IntN(len(words))])
		}
		if r.IntN(8) != 0 {
			fs := []float64{math.Inf(-1), -1.5, math.Copysign(0, -1), 0, 2, math.Inf(1), math.NaN(), -math.NaN()}
			t.f = ptr(fs[r.IntN(len(fs))])
		}
		if r.IntN(8) != 0 {
			t.b = ptr(r.IntN(2) == 0)
		}
		if r.IntN(8) != 0 {
			t.ts = ptr(int64(r.IntN(5)-2) * 1_000_000_000_000)
		}
		if r.IntN(8) != 0 {
			t.u = ptr(uint64(r.IntN(3)) << 62)
		}
		rows[i] = t
	}
	return rows
}

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "k", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
}, nil)

// toBatches builds batches of the given sizes (cycled) from rows. Column
// ls copies s; l is [id, id] (exercises the gather fallback).
func toBatches(mem memory.Allocator, rows []trow, sizes ...int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i, si := 0, 0; i < len(rows); si++ {
		n := min(sizes[si%len(sizes)], len(rows)-i)
		out = append(out, buildRows(mem, rows[i:i+n]))
		i += n
	}
	return out
}

func buildRows(mem memory.Allocator, rows []trow) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		appendOr(b.Field(1), r.k, func(v int32) { b.Field(1).(*array.Int32Builder).Append(v) })
		appendOr(b.Field(2), r.s, func(v string) { b.Field(2).(*array.StringBuilder).Append(v) })
		appendOr(b.Field(3), r.f, func(v float64) { b.Field(3).(*array.Float64Builder).Append(v) })
		appendOr(b.Field(4), r.b, func(v bool) { b.Field(4).(*array.BooleanBuilder).Append(v) })
		appendOr(b.Field(5), r.ts, func(v int64) { b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(v)) })
		appendOr(b.Field(6), r.u, func(v uint64) { b.Field(6).(*array.Uint64Builder).Append(v) })
		appendOr(b.Field(7), r.s, func(v string) { b.Field(7).(*array.LargeStringBuilder).Append(v) })
		lb := b.Field(8).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{r.id, r.id}, nil)
	}
	return b.NewRecordBatch()
}

func appendOr[T any](fb array.Builder, v *T, app func(T)) {
	if v == nil {
		fb.AppendNull()
	} else {
		app(*v)
	}
}

// readRows reads output batches back into trows, checking that the
// derived columns (ls, l) agree.
func readRows(t *testing.T, bs []arrow.RecordBatch) []trow {
	t.Helper()
	var out []trow
	for _, b := range bs {
		if !b.Schema().Equal(testSchema) {
			t.Fatalf("output schema %v", b.Schema())
		}
		id := b.Column(0).(*array.Int64)
		k := b.Column(1).(*array.Int32)
		s := b.Column(2).(*array.String)
		f := b.Column(3).(*array.Float64)
		bo := b.Column(4).(*array.Boolean)
		ts := b.Column(5).(*array.Timestamp)
		u := b.Column(6).(*array.Uint64)
		ls := b.Column(7).(*array.LargeString)
		l := b.Column(8).(*array.List)
		lv := l.ListValues().(*array.Int64)
		for i := 0; i < int(b.NumRows()); i++ {
			r := trow{id: id.Value(i)}
			if k.IsValid(i) {
				r.k = ptr(k.Value(i))
			}
			if s.IsValid(i) {
				r.s = ptr(s.Value(i))
				if !ls.IsValid(i) || ls.Value(i) != s.Value(i) {
					t.Fatalf("row id %d: ls %q != s %q", r.id, ls.Value(i), s.Value(i))
				}
			} else if ls.IsValid(i) {
				t.Fatalf("row id %d: ls not null", r.id)
			}
			if f.IsValid(i) {
				r.f = ptr(f.Value(i))
			}
			if bo.IsValid(i) {
				r.b = ptr(bo.Value(i))
			}
			if ts.IsValid(i) {
				r.ts = ptr(int64(ts.Value(i)))
			}
			if u.IsValid(i) {
				r.u = ptr(u.Value(i))
			}
			lo, hi := l.ValueOffsets(i)
			if hi-lo != 2 || lv.Value(int(lo)) != r.id || lv.Value(int(lo)+1) != r.id {
				t.Fatalf("row id %d: list column wrong", r.id)
			}
			out = append(out, r)
		}
	}
	return out
}

// refKey is the reference comparison of one key, written independently of
// the implementation: nulls placed by nullsFirst, values by plain Go
// comparisons.
type refKey struct {
	col        string
	desc       bool
	nullsFirst bool
}

func cmpNullable[T any](a, b *T, nullsFirst, desc bool, c func(x, y T) int) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if nullsFirst {
			return -1
		}
		return 1
	case b == nil:
		if nullsFirst {
			return 1
		}
		return -1
	}
	r := c(*a, *b)
	if desc {
		return -r
	}
	return r
}

func cmpFloat(x, y float64) int {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0 // includes -0 == +0
}

func cmpBool(x, y bool) int {
	if x == y {
		return 0
	}
	if !x {
		return -1
	}
	return 1
}

func refSort(rows []trow, keys []refKey) []trow {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b trow) int {
		for _, k := range keys {
			var c int
			switch k.col {
			case "k":
				c = cmpNullable(a.k, b.k, k.nullsFirst, k.desc, cmp.Compare[int32])
			case "s", "ls":
				c = cmpNullable(a.s, b.s, k.nullsFirst, k.desc, strings.Compare)
			case "f":
				c = cmpNullable(a.f, b.f, k.nullsFirst, k.desc, cmpFloat)
			case "b":
				c = cmpNullable(a.b, b.b, k.nullsFirst, k.desc, cmpBool)
			case "ts":
				c = cmpNullable(a.ts, b.ts, k.nullsFirst, k.desc, cmp.Compare[int64])
			case "u":
				c = cmpNullable(a.u, b.u, k.nullsFirst, k.desc, cmp.Compare[uint64])
			case "id":
				c = cmpNullable(&a.id, &b.id, k.nullsFirst, k.desc, cmp.Compare[int64])
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func sameRow(a, b trow) bool {
	eq := func(x, y *float64) bool {
		if x == nil || y == nil {
			return x == y
		}
		return math.Float64bits(*x) == math.Float64bits(*y)
	}
	return a.id == b.id && eqp(a.k, b.k) && eqp(a.s, b.s) && eq(a.f, b.f) && eqp(a.b, b.b) && eqp(a.ts, b.ts) && eqp(a.u, b.u)
}

func eqp[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// sortCfg builds the raw config and the reference keys.
func sortCfg(cols []string, desc []bool, nulls string) (map[string]any, []refKey) {
	by := make([]any, len(cols))
	d := make([]any, len(cols))
	keys := make([]refKey, len(cols))
	for i, c := range cols {
		by[i], d[i] = c, desc[i]
		keys[i] = refKey{col: c, desc: desc[i], nullsFirst: desc[i]}
		if nulls != "" {
			keys[i].nullsFirst = nulls == "first"
		}
	}
	cfg := map[string]any{"by": by, "descending": d}
	if nulls != "" {
		cfg["nulls"] = nulls
	}
	return cfg, keys
}

func runSort(t *testing.T, mem memory.Allocator, cfg map[string]any, batchSize int, in []arrow.RecordBatch) []trow {
	t.Helper()
	res, err := flow.RunIsolated(context.Background(), SortSpec(), cfg, flow.BuildEnv{Alloc: mem, BatchSize: batchSize}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	for _, b := range res.Output {
		if b.NumRows() > int64(batchSize) {
			t.Fatalf("output batch of %d rows > batch size %d", b.NumRows(), batchSize)
		}
	}
	return readRows(t, res.Output)
}

func checkRows(t *testing.T, got, want []trow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if !sameRow(got[i], want[i]) {
			t.Fatalf("row %d: got id %d, want id %d", i, got[i].id, want[i].id)
		}
	}
}

func TestSortAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		cols []string
		desc []bool
	}{
		{[]string{"k"}, []bool{false}},
		{[]string{"k"}, []bool{true}},
		{[]string{"s"}, []bool{false}},
		{[]string{"ls"}, []bool{true}},
		{[]string{"f"}, []bool{false}},
		{[]string{"f"}, []bool{true}},
		{[]string{"b", "ts"}, []bool{false, true}},
		{[]string{"u", "k"}, []bool{true, false}},
		{[]string{"s", "k", "f"}, []bool{true, false, true}},
		{[]string{"k", "b", "ts", "u"}, []bool{false, true, false, true}},
		{[]string{"id"}, []bool{true}},
	}
	for _, n := range []int{0, 1, 7, 300, 2000} {
		rows := genRows(r, n)
		for _, c := range cases {
			for _, nulls := range []string{"", "first", "last"} {
				for _, sizes := range [][]int{{1000}, {1, 5, 64}, {333}} {
					name := fmt.Sprintf("n%d/%v%v/%s/%v", n, c.cols, c.desc, nulls, sizes)
					t.Run(name, func(t *testing.T) {
						mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
						defer mem.AssertSize(t, 0)
						cfg, keys := sortCfg(c.cols, c.desc, nulls)
						got := runSort(t, mem, cfg, 100, toBatches(mem, rows, sizes...))
						checkRows(t, got, refSort(rows, keys))
					})
				}
			}
		}
	}
}

func TestSortSpill(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(3, 4))
	rows := genRows(r, 40000) // a few MB with the list column
	for i := range rows {
		if i%3 == 0 {
			rows[i].s = ptr(strings.Repeat("é", r.IntN(20)) + fmt.Sprint(r.IntN(1000)))
		}
	}
	dir := t.TempDir()
	cfg, keys := sortCfg([]string{"s", "k", "f"}, []bool{false, true, false}, "")
	cfg["memory_limit"] = "64KB"
	cfg["temp_dir"] = dir
	in := toBatches(mem, rows, 1000, 3000, 17)
	var inBytes int64
	for _, b := range in {
		inBytes += BatchBytes(b)
	}
	env := flow.BuildEnv{Alloc: mem, BatchSize: 4096}
	spec := SortSpec()
	res, err := flow.RunIsolated(context.Background(), spec, cfg, env, "", in)
	if err != nil {
		t.Fatal(err)
	}
	got := readRows(t, res.Output)
	res.Release()
	checkRows(t, got, refSort(rows, keys))
	if inBytes < 2<<20 {
		t.Fatalf("test input is only %d bytes", inBytes)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

// TestSortSpillPeak checks that a spilling sort holds about its budget.
func TestSortSpillPeak(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows := genRows(rand.New(rand.NewPCG(5, 6)), 50000)
	in := toBatches(mem, rows, 512)
	dir := t.TempDir()
	cfg, keys := sortCfg([]string{"k", "id"}, []bool{false, true}, "")
	cfg["memory_limit"] = int64(256 << 10)
	cfg["temp_dir"] = dir
	res, err := flow.RunIsolated(context.Background(), SortSpec(), cfg, flow.BuildEnv{Alloc: mem, BatchSize: 1024}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	got := readRows(t, res.Output)
	res.Release()
	checkRows(t, got, refSort(rows, keys))
}

// TestSortCancelRemovesRuns cancels the sort once it has spilled: the run
// files must be gone when it returns.
func TestSortCancelRemovesRuns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows := genRows(rand.New(rand.NewPCG(7, 8)), 30000)
	in := toBatches(mem, rows, 500)
	dir := t.TempDir()
	cfg := map[string]any{"by": "id", "memory_limit": "16KiB", "temp_dir": dir}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				cancel()
				return
			}
		}
	}()
	res, err := flow.RunIsolated(ctx, SortSpec(), cfg, flow.BuildEnv{Alloc: mem}, "", in)
	cancel()
	<-done
	if err == nil {
		res.Release()
		t.Skip("the sort finished before the cancellation")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestSortSchemaAndCheck(t *testing.T) {
	spec := SortSpec()
	schema := arrow.NewSchema([]arrow.Field{{Name: "amount", Type: arrow.PrimitiveTypes.Int64}, {Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)}}, nil)
	cfg, errs := flow.CheckConfig(spec, map[string]any{"by": "amout"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{schema})
	var pe *flow.ParamError
	var ue *operators.UnknownColumnError
	if !errors.As(err, &pe) || pe.Key != "by" || !errors.As(err, &ue) || ue.Suggestion != "amount" {
		t.Fatalf("err = %v", err)
	}
	cfg, _ = flow.CheckConfig(spec, map[string]any{"by": "tags"})
	if _, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{schema}); !errors.Is(err, operators.ErrUnsupportedType) {
		t.Fatalf("err = %v", err)
	}
	cfg, _ = flow.CheckConfig(spec, map[string]any{"by": "amount"})
	if out, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{schema}); err != nil || !out.Equal(schema) {
		t.Fatalf("schema %v, %v", out, err)
	}
	for _, bad := range []map[string]any{
		{"by": []any{"a", "b"}, "descending": []any{true}},
		{"by": "a", "descending": []any{"yes"}},
		{"by": "a", "memory_limit": "lots"},
		{"by": "a", "memory_limit": "12XB"},
		{"by": []any{}},
	} {
		if _, errs := flow.CheckConfig(spec, bad); len(errs) == 0 {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[any]int64{"64KB": 64000, "64KiB": 65536, "1GiB": 1 << 30, "256MB": 256e6, "512k": 512 << 10, "1.5 MiB": 3 << 19, int64(4096): 4096, "100": 100} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%v) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []any{"", "MB", "-1", "1XB", int64(0), true} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%v): no error", in)
		}
	}
}

func TestSortExamples(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, name := range []string{sortName, limitName, "transform.sort"} {
		spec, ok := r.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: %s has no Doc", name, p.Name)
			}
		}
		spectest.RunAll(t, spec)
	}
}
