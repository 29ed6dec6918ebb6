package aggregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

// ---- test data -----------------------------------------------------------

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

var unicodeWords = []string{"", "a", "Zürich", "Ålesund", "日本語", "emoji 🎉", "naïve", "b", "ß", "long value with spaces"}

// genBatch builds n random rows; card bounds the distinct key values
// (card 0: every row its own key).
func genBatch(mem memory.Allocator, r *rand.Rand, n, card int, start *int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	key := func() int {
		if card == 0 {
			*start++
			return *start
		}
		return r.IntN(card)
	}
	null := func() bool { return r.IntN(8) == 0 }
	for range n {
		if null() {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(int64(key()))
		}
		if null() {
			b.Field(1).AppendNull()
		} else {
			w := key()
			b.Field(1).(*array.StringBuilder).Append(unicodeWords[w%len(unicodeWords)] + strings.Repeat("x", w/len(unicodeWords)))
		}
		if null() {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.BooleanBuilder).Append(r.IntN(2) == 0)
		}
		switch r.IntN(20) {
		case 0, 1:
			b.Field(3).AppendNull()
		case 2:
			b.Field(3).(*array.Float64Builder).Append(math.Copysign(0, -1))
		default:
			b.Field(3).(*array.Float64Builder).Append(float64(r.IntN(1000))/8 - 50)
		}
		if null() {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.Int32Builder).Append(int32(r.IntN(2000) - 1000))
		}
		if null() {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + r.Int64N(1e12)))
		}
	}
	return b.NewRecordBatch()
}

// cell is row i of a as a Go value (nil for null).
func cell(a arrow.Array, i int) any {
	if _, ok := a.(*array.Null); ok || a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i)
	case *array.Int32:
		return int64(x.Value(i))
	case *array.Float64:
		return x.Value(i)
	case *array.String:
		return x.Value(i)
	case *array.Boolean:
		return x.Value(i)
	case *array.Timestamp:
		return int64(x.Value(i))
	}
	panic(fmt.Sprintf("cell: %T", a))
}

func keyString(v any) string {
	if f, ok := v.(float64); ok {
		if math.IsNaN(f) {
			return "NaN"
		}
		if f == 0 {
			return "f0"
		}
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// ---- reference -----------------------------------------------------------

type refGroup struct {
	key  []any
	rows int64
	vals map[string][]any // non-null values per column, in input order
}

// refGroupBy groups rows by the columns by, row by row, with maps.
func refGroupBy(batches []arrow.RecordBatch, by []string, cols []string) []*refGroup {
	index := map[string]*refGroup{}
	var order []*refGroup
	for _, b := range batches {
		for i := range int(b.NumRows()) {
			var key []any
			var ks []string
			for _, k := range by {
				v := cell(b.Column(b.Schema().FieldIndices(k)[0]), i)
				key = append(key, v)
				ks = append(ks, keyString(v))
			}
			id := strings.Join(ks, "\x00")
			g := index[id]
			if g == nil {
				g = &refGroup{key: key, vals: map[string][]any{}}
				index[id] = g
				order = append(order, g)
			}
			g.rows++
			for _, c := range cols {
				if v := cell(b.Column(b.Schema().FieldIndices(c)[0]), i); v != nil {
					g.vals[c] = append(g.vals[c], v)
				}
			}
		}
	}
	return order
}

func toF(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	panic(v)
}

func lessAny(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case float64:
		y := b.(float64)
		return x < y || (math.IsNaN(y) && !math.IsNaN(x))
	case string:
		return x < b.(string)
	case bool:
		return !x && b.(bool)
	}
	panic(a)
}

// refAgg computes one aggregation over a group's values.
func refAgg(g *refGroup, a aggSpec) any {
	if a.column == "" {
		return g.rows
	}
	vals := g.vals[a.column]
	switch a.op {
	case opCount:
		return int64(len(vals))
	case opCountDistinct:
		seen := map[string]bool{}
		for _, v := range vals {
			seen[keyString(v)] = true
		}
		return int64(len(seen))
	}
	if len(vals) == 0 {
		return nil
	}
	switch a.op {
	case opSum:
		if _, ok := vals[0].(int64); ok {
			var s int64
			for _, v := range vals {
				s += v.(int64)
			}
			return s
		}
		var s float64
		for _, v := range vals {
			s += v.(float64)
		}
		return s
	case opAvg, opMean:
		var s float64
		for _, v := range vals {
			s += toF(v)
		}
		return s / float64(len(vals))
	case opMedian:
		f := make([]float64, len(vals))
		for i, v := range vals {
			f[i] = toF(v)
		}
		slices.Sort(f)
		if len(f)%2 == 1 {
			return f[len(f)/2]
		}
		return (f[len(f)/2-1] + f[len(f)/2]) / 2
	case opVar, opStd:
		if len(vals) < 2 {
			return nil
		}
		var s float64
		for _, v := range vals {
			s += toF(v)
		}
		m := s / float64(len(vals))
		var ss float64
		for _, v := range vals {
			ss += (toF(v) - m) * (toF(v) - m)
		}
		v := ss / float64(len(vals)-1)
		if a.op == opStd {
			return math.Sqrt(v)
		}
		return v
	case opMin, opMax:
		best := vals[0]
		for _, v := range vals[1:] {
			if (a.op == opMin && lessAny(v, best)) || (a.op == opMax && lessAny(best, v)) {
				best = v
			}
		}
		return best
	case opFirst:
		return vals[0]
	case opLast:
		return vals[len(vals)-1]
	}
	panic(a.op)
}

func sameValue(got, want any) bool {
	if gf, ok := got.(float64); ok {
		wf, ok := want.(float64)
		if !ok {
			return false
		}
		if math.IsNaN(gf) || math.IsNaN(wf) {
			return math.IsNaN(gf) && math.IsNaN(wf)
		}
		return math.Abs(gf-wf) <= 1e-9*math.Max(1, math.Abs(wf))
	}
	return got == want
}

// ---- harness -------------------------------------------------------------

func run(t *testing.T, mem memory.Allocator, spec *flow.Spec, cfg map[string]any, batchSize int, in []arrow.RecordBatch) ([]arrow.RecordBatch, *flow.IsolatedResult) {
	t.Helper()
	for _, b := range in {
		b.Retain() // RunIsolated consumes its inputs; the caller keeps its own
	}
	res, err := flow.RunIsolated(context.Background(), spec, cfg, flow.BuildEnv{Alloc: mem, BatchSize: batchSize}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	return res.Output, res
}

// rowsOf renders output batches as rows of Go values.
func rowsOf(out []arrow.RecordBatch) (names []string, rows [][]any) {
	for _, b := range out {
		if names == nil {
			for _, f := range b.Schema().Fields() {
				names = append(names, f.Name)
			}
		}
		for i := range int(b.NumRows()) {
			var row []any
			for _, c := range b.Columns() {
				row = append(row, cell(c, i))
			}
			rows = append(rows, row)
		}
	}
	return names, rows
}

var allAggs = []aggSpec{
	{column: "", op: opCount, out: "n"},
	{column: "i", op: opCount, out: "i_count"},
	{column: "s", op: opCountDistinct, out: "s_cd"},
	{column: "f", op: opCountDistinct, out: "f_cd"},
	{column: "i", op: opSum, out: "i_sum"},
	{column: "k", op: opSum, out: "k_sum"},
	{column: "f", op: opSum, out: "f_sum"},
	{column: "i", op: opAvg, out: "i_avg"},
	{column: "f", op: opMean, out: "f_mean"},
	{column: "i", op: opMedian, out: "i_median"},
	{column: "f", op: opMedian, out: "f_median"},
	{column: "f", op: opStd, out: "f_std"},
	{column: "i", op: opVar, out: "i_var"},
	{column: "i", op: opMin, out: "i_min"},
	{column: "f", op: opMax, out: "f_max"},
	{column: "s", op: opMin, out: "s_min"},
	{column: "s", op: opMax, out: "s_max"},
	{column: "ts", op: opMin, out: "ts_min"},
	{column: "ts", op: opMax, out: "ts_max"},
	{column: "b", op: opMin, out: "b_min"},
	{column: "b", op: opMax, out: "b_max"},
	{column: "s", op: opFirst, out: "s_first"},
	{column: "f", op: opLast, out: "f_last"},
	{column: "ts", op: opFirst, out: "ts_first"},
	{column: "b", op: opLast, out: "b_last"},
}

func aggConfig(aggs []aggSpec) []any {
	var l []any
	for _, a := range aggs {
		m := map[string]any{"operation": a.op, "output_column": a.out}
		if a.column != "" {
			m["column"] = a.column
		}
		l = append(l, m)
	}
	return l
}

func checkGroupBy(t *testing.T, mem memory.Allocator, by []string, in []arrow.RecordBatch, batchSize int) {
	t.Helper()
	var byAny []any
	for _, k := range by {
		byAny = append(byAny, k)
	}
	cfg := map[string]any{"by": byAny, "aggregations": aggConfig(allAggs)}
	spec := GroupBySpec()
	if len(by) == 0 {
		spec = ReduceSpec()
		cfg = map[string]any{"aggregations": aggConfig(allAggs)}
	}
	out, res := run(t, mem, spec, cfg, batchSize, in)
	defer res.Release()
	for _, b := range out {
		if b.NumRows() > int64(batchSize) {
			t.Fatalf("output batch of %d rows, batch size %d", b.NumRows(), batchSize)
		}
	}
	cols := []string{"k", "s", "b", "f", "i", "ts"}
	ref := refGroupBy(in, by, cols)
	if len(by) == 0 && len(ref) == 0 {
		ref = []*refGroup{{vals: map[string][]any{}}}
	}
	names, rows := rowsOf(out)
	if len(rows) != len(ref) {
		t.Fatalf("%d groups, want %d", len(rows), len(ref))
	}
	for gi, g := range ref {
		row := rows[gi]
		for ki := range by {
			if !sameValue(row[ki], g.key[ki]) && keyString(row[ki]) != keyString(g.key[ki]) {
				t.Fatalf("group %d key %s = %v, want %v", gi, by[ki], row[ki], g.key[ki])
			}
		}
		for ai, a := range allAggs {
			got, want := row[len(by)+ai], refAgg(g, a)
			if !sameValue(got, want) {
				t.Fatalf("group %d (key %v) %s = %#v, want %#v", gi, g.key, names[len(by)+ai], got, want)
			}
		}
	}
}

func genBatches(mem memory.Allocator, seed uint64, sizes []int, card int) []arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 7))
	start := 0
	var in []arrow.RecordBatch
	for _, n := range sizes {
		in = append(in, genBatch(mem, r, n, card, &start))
	}
	return in
}

func release(bs []arrow.RecordBatch) {
	for _, b := range bs {
		b.Release()
	}
}

func TestGroupByMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	keySets := [][]string{{"k"}, {"s"}, {"b"}, {"f"}, {"ts"}, {"s", "k"}, {"b", "s", "f"}, {"k", "s", "b", "ts"}}
	shapes := []struct {
		name  string
		sizes []int
		card  int
	}{
		{"empty", nil, 5},
		{"empty batch", []int{0}, 5},
		{"single row", []int{1}, 5},
		{"one group", []int{50, 3, 200}, 1},
		{"few groups", []int{17, 1000, 0, 64, 333}, 6},
		{"many groups", []int{500, 1500, 7}, 400},
		{"every row its own group", []int{100, 31, 250}, 0},
	}
	for si, sh := range shapes {
		for ki, by := range keySets {
			for _, bs := range []int{3, 1000} {
				t.Run(fmt.Sprintf("%s/%v/batch%d", sh.name, by, bs), func(t *testing.T) {
					in := genBatches(mem, uint64(si*100+ki), sh.sizes, sh.card)
					defer release(in)
					checkGroupBy(t, mem, by, in, bs)
				})
			}
		}
	}
}

func TestReduceMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for i, sizes := range [][]int{nil, {0}, {1}, {10, 0, 300, 41}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			in := genBatches(mem, uint64(i), sizes, 9)
			defer release(in)
			checkGroupBy(t, mem, nil, in, 100)
		})
	}
}

func TestReduceEmptyInputNoBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	out, res := run(t, mem, ReduceSpec(), map[string]any{"aggregations": aggConfig([]aggSpec{
		{op: opCount, out: "n"}, {column: "x", op: opSum, out: "s"}, {column: "x", op: opAvg, out: "a"}})}, 10, nil)
	defer res.Release()
	_, rows := rowsOf(out)
	if len(rows) != 1 || rows[0][0] != int64(0) || rows[0][1] != nil || rows[0][2] != nil {
		t.Fatalf("rows %v", rows)
	}
}

func TestSumOverflowGivesNull(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{{Name: "g", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}, {Name: "u", Type: arrow.PrimitiveTypes.Uint64}}, nil))
	add := func(g string, v int64, u uint64) {
		b.Field(0).(*array.StringBuilder).Append(g)
		b.Field(1).(*array.Int64Builder).Append(v)
		b.Field(2).(*array.Uint64Builder).Append(u)
	}
	add("big", math.MaxInt64, 1)
	add("ok", 5, 2)
	add("big", 1, 3)
	add("neg", math.MinInt64, math.MaxUint64)
	add("neg", -1, 0)
	add("ok", -7, 4)
	add("back", math.MaxInt64, 1)
	add("back", 10, 1) // overflows then comes back: still null
	add("back", -20, 1)
	in := b.NewRecordBatch()
	b.Release()
	out, res := run(t, mem, GroupBySpec(), map[string]any{"by": "g", "aggregations": []any{
		map[string]any{"column": "v", "operation": "sum"}, map[string]any{"column": "u", "operation": "sum"}}}, 100, []arrow.RecordBatch{in})
	in.Release()
	defer res.Release()
	_, rows := rowsOf(out)
	want := "[[big <nil> 4] [ok -2 6] [neg <nil> <nil>] [back <nil> 3]]"
	if got := fmt.Sprint(rows); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSchemaErrors(t *testing.T) {
	schema := testSchema
	cases := []struct {
		spec    *flow.Spec
		cfg     flow.Config
		key     string
		wantErr error
	}{
		{GroupBySpec(), flow.Config{"by": "kk", "aggregations": []any{map[string]any{"operation": "count"}}}, "by", operators.ErrUnknownColumn},
		{GroupBySpec(), flow.Config{"by": "k", "aggregations": []any{map[string]any{"column": "ii", "operation": "sum"}}}, "aggregations", operators.ErrUnknownColumn},
		{GroupBySpec(), flow.Config{"by": "k", "aggregations": []any{map[string]any{"column": "s", "operation": "sum"}}}, "aggregations", operators.ErrTypeMismatch},
		{ReduceSpec(), flow.Config{"column": "s", "operation": "avg"}, "column", operators.ErrTypeMismatch},
		{DistinctSpec(), flow.Config{"subset": []any{"k", "z"}, "keep": "first"}, "subset", operators.ErrUnknownColumn},
	}
	for _, c := range cases {
		_, err := c.spec.Schema(c.cfg, flow.BuildEnv{}, []*arrow.Schema{schema})
		var pe *flow.ParamError
		if !errors.As(err, &pe) || pe.Key != c.key || !errors.Is(err, c.wantErr) {
			t.Errorf("%s %v: error %v, want ParamError on %q wrapping %v", c.spec.Name, c.cfg, err, c.key, c.wantErr)
		}
	}
	var uc *operators.UnknownColumnError
	_, err := GroupBySpec().Schema(flow.Config{"by": "kk", "aggregations": []any{map[string]any{"operation": "count"}}}, flow.BuildEnv{}, []*arrow.Schema{schema})
	if !errors.As(err, &uc) || uc.Suggestion != "k" {
		t.Errorf("no suggestion: %v", err)
	}
	out, err := GroupBySpec().Schema(flow.Config{"by": []any{"s", "k"}, "aggregations": aggConfig(allAggs)}, flow.BuildEnv{}, []*arrow.Schema{schema})
	if err != nil {
		t.Fatal(err)
	}
	if out.NumFields() != 2+len(allAggs) || out.Field(0).Name != "s" || out.Field(2).Type.ID() != arrow.INT64 || out.Field(6).Type.ID() != arrow.INT64 {
		t.Errorf("schema %v", out)
	}
	// the same check at run time, on the first batch
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := genBatches(mem, 1, []int{5}, 3)
	_, err = flow.RunIsolated(context.Background(), GroupBySpec(), map[string]any{"by": "kx", "aggregations": []any{map[string]any{"operation": "count"}}}, flow.BuildEnv{Alloc: mem}, "", in)
	if !errors.Is(err, operators.ErrUnknownColumn) || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("run-time unknown column: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"by": "k", "aggregations": []any{map[string]any{"column": "i", "operation": "summ"}}},
		{"by": "k", "aggregations": []any{map[string]any{"operation": "sum"}}},
		{"by": "k", "aggregations": []any{map[string]any{"column": "i", "operation": "sum", "output_column": "k"}}},
		{"by": "k", "aggregations": []any{map[string]any{"column": "i"}}},
	} {
		_, errs := flow.CheckConfig(GroupBySpec(), cfg)
		if len(errs) == 0 {
			t.Errorf("%v: no error", cfg)
		}
	}
	_, errs := flow.CheckConfig(ReduceSpec(), map[string]any{"column": "i", "operation": "sum", "aggregations": []any{}})
	if len(errs) == 0 {
		t.Error("reduce with both forms: no error")
	}
}

func TestStateBytesGrowWithGroups(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	size := func(card int) int64 {
		in := genBatches(mem, 3, []int{4000}, card)
		defer release(in)
		op, err := GroupBySpec().New(flow.Config{"by": "k", "aggregations": aggConfig(allAggs[:8])}, flow.BuildEnv{Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		h := op.(*hashAgg)
		defer h.release()
		if _, err := h.Transform(context.Background(), &flow.Stage{}, in[0]); err != nil {
			t.Fatal(err)
		}
		return h.stateBytes()
	}
	small, big := size(2), size(3000)
	if small <= 0 || big <= small {
		t.Fatalf("state bytes: %d groups -> %d, %d groups -> %d", 2, small, 3000, big)
	}
}

// TestDictionaryKeys groups a dictionary-encoded column like its decoded
// strings, across batches with different dictionaries.
func TestDictionaryKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	mk := func(vals []string) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for i, v := range vals {
			if v == "-" {
				b.Field(0).AppendNull()
			} else if err := b.Field(0).(*array.BinaryDictionaryBuilder).AppendString(v); err != nil {
				t.Fatal(err)
			}
			b.Field(1).(*array.Int64Builder).Append(int64(i))
		}
		return b.NewRecordBatch()
	}
	in := []arrow.RecordBatch{mk([]string{"zürich", "oslo", "-", "zürich"}), mk([]string{"oslo", "bern", "-"})}
	out, res := run(t, mem, GroupBySpec(), map[string]any{"by": "c", "aggregations": []any{
		map[string]any{"operation": "count"},
		map[string]any{"column": "v", "operation": "sum"},
		map[string]any{"column": "c", "operation": "count_distinct"},
	}}, 100, in)
	release(in)
	defer res.Release()
	if got := out[0].Schema().Field(0).Type; !arrow.TypeEqual(got, arrow.BinaryTypes.String) {
		t.Fatalf("key type %s, want string", got)
	}
	_, rows := rowsOf(out)
	want := "[[zürich 2 3 1] [oslo 2 1 1] [<nil> 2 4 0] [bern 1 1 1]]"
	if got := fmt.Sprint(rows); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
