package bench

// Operator benchmarks: each one looks its stage up in the catalog registry
// (the specs a pipeline gets) and runs it with flow.RunIsolated, which
// drives the operator exactly as the pipeline runtime does, over input
// batches of 64k rows built once outside the timed loop. RunIsolated
// releases its inputs, so every iteration Retains them first. ns/row is the
// wall time per input row.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

const (
	opsBatch = 64 << 10 // rows per input batch
	opsRows  = 4 << 20  // rows of the filter, map, groupby and join (left) inputs
	sortRows = 1 << 20  // rows of the sort input
)

// column fills one column of a batch: row is the row's index in the
// whole input, r the shared generator.
type column struct {
	name string
	typ  arrow.DataType
	fill func(bld array.Builder, row int, r *rand.Rand)
}

// buildBatches builds rows rows of the given columns in opsBatch-row batches.
func buildBatches(rows int, seed uint64, cols ...column) []arrow.RecordBatch {
	mem := memory.NewGoAllocator()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var out []arrow.RecordBatch
	for start := 0; start < rows; start += opsBatch {
		n := min(opsBatch, rows-start)
		bld := array.NewRecordBuilder(mem, schema)
		for i := range cols {
			bld.Field(i).Reserve(n)
		}
		for row := start; row < start+n; row++ {
			for i, c := range cols {
				c.fill(bld.Field(i), row, r)
			}
		}
		out = append(out, bld.NewRecordBatch())
		bld.Release()
	}
	return out
}

func releaseAll(bs []arrow.RecordBatch) {
	for _, b := range bs {
		b.Release()
	}
}

// lookup returns the catalog's spec for a stage name.
func lookup(b *testing.B, name string) *flow.Spec {
	b.Helper()
	spec, ok := catalog.Registry().Lookup(name)
	if !ok {
		b.Skipf("stage %s is not registered in internal/catalog", name)
	}
	return spec
}

// runOp times spec over inputs (one slice per input edge) b.N times and
// reports ns per input row. It returns the output rows of the last run.
func runOp(b *testing.B, spec *flow.Spec, cfg map[string]any, inputs ...[]arrow.RecordBatch) int64 {
	b.Helper()
	var rows int64
	for _, in := range inputs {
		for _, x := range in {
			rows += x.NumRows()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var out int64
	for range b.N {
		for _, in := range inputs {
			for _, x := range in {
				x.Retain()
			}
		}
		res, err := flow.RunIsolated(context.Background(), spec, cfg, flow.BuildEnv{}, "", inputs...)
		if err != nil {
			b.Fatal(err)
		}
		out = 0
		for _, o := range res.Output {
			out += o.NumRows()
		}
		res.Release()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*int64(b.N)), "ns/row")
	return out
}

// Column fillers.

func f64Col(name string, f func(r *rand.Rand) float64) column {
	return column{name, arrow.PrimitiveTypes.Float64, func(bld array.Builder, _ int, r *rand.Rand) {
		bld.(*array.Float64Builder).UnsafeAppend(f(r))
	}}
}

func i64Col(name string, f func(row int, r *rand.Rand) int64) column {
	return column{name, arrow.PrimitiveTypes.Int64, func(bld array.Builder, row int, r *rand.Rand) {
		bld.(*array.Int64Builder).UnsafeAppend(f(row, r))
	}}
}

func strCol(name string, f func(row int, r *rand.Rand) string) column {
	return column{name, arrow.BinaryTypes.String, func(bld array.Builder, row int, r *rand.Rand) {
		bld.(*array.StringBuilder).Append(f(row, r))
	}}
}

// amountCol is log-normal like bench/gendata's amount (median ~20).
func amountCol() column {
	return f64Col("amount", func(r *rand.Rand) float64 { return math.Round(math.Exp(3+r.NormFloat64())*100) / 100 })
}

// countryCol draws from the 50 countries of csv_test.go, skewed as in gendata.
func countryCol() column {
	return strCol("country", func(_ int, r *rand.Rand) string {
		u := r.Float64()
		return countries[int(u*u*float64(len(countries)))%len(countries)]
	})
}

func categoryCol() column {
	return strCol("category", func(_ int, r *rand.Rand) string { return categories[r.IntN(len(categories))] })
}

// BenchmarkExprFilter: filter.apply with an expression over 4M rows
// (amount float64 log-normal, country from 50 values).
func BenchmarkExprFilter(b *testing.B) {
	spec := lookup(b, "filter.apply")
	data := buildBatches(opsRows, 1, amountCol(), countryCol())
	defer releaseAll(data)
	out := runOp(b, spec, map[string]any{"expr": "amount > 10 and country in ('US', 'CA', 'DE')"}, data)
	if out == 0 || out == opsRows {
		b.Fatalf("filter kept %d of %d rows", out, opsRows)
	}
	b.ReportMetric(float64(out)/opsRows, "selectivity")
}

// BenchmarkExprMap: map.apply computing a float expression over three
// columns and upper() of a string column, over 4M rows.
func BenchmarkExprMap(b *testing.B) {
	spec := lookup(b, "map.apply")
	data := buildBatches(opsRows, 2,
		f64Col("price", func(r *rand.Rand) float64 { return float64(r.IntN(100000)) / 100 }),
		i64Col("qty", func(_ int, r *rand.Rand) int64 { return 1 + r.Int64N(20) }),
		f64Col("tax", func(r *rand.Rand) float64 { return []float64{0, 0.05, 0.1, 0.2}[r.IntN(4)] }),
		countryCol())
	defer releaseAll(data)
	cfg := map[string]any{
		"columns":          map[string]any{"total": "price * qty * (1 + tax)", "label": "upper(country)"},
		"columns\x00order": []string{"total", "label"},
	}
	if out := runOp(b, spec, cfg, data); out != opsRows {
		b.Fatalf("map emitted %d of %d rows", out, opsRows)
	}
}

// groupKeys returns opsRows int64 keys taking every value of [0, groups)
// (each at least once, opsRows >= groups), in random order.
func groupKeys(groups int, seed uint64) []int64 {
	k := make([]int64, opsRows)
	for i := range k {
		k[i] = int64(i % groups)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	r.Shuffle(len(k), func(i, j int) { k[i], k[j] = k[j], k[i] })
	return k
}

// BenchmarkGroupBy: groupby.apply with count, sum(amount float64) and
// avg(clicks int64) over 4M rows, by an int64 key with exactly 10, 10k or
// 1M distinct values in random order, and by (country, category) strings
// (50 × 20 values, about 1000 groups).
func BenchmarkGroupBy(b *testing.B) {
	spec := lookup(b, "groupby.apply")
	aggs := []any{
		map[string]any{"operation": "count"},
		map[string]any{"column": "amount", "operation": "sum"},
		map[string]any{"column": "clicks", "operation": "avg"},
	}
	clicks := i64Col("clicks", func(_ int, r *rand.Rand) int64 { return int64(-math.Log(1-r.Float64()) * 3) })
	for _, g := range []struct {
		name   string
		groups int
	}{{"10groups", 10}, {"10kgroups", 10_000}, {"1Mgroups", 1_000_000}} {
		b.Run(g.name, func(b *testing.B) {
			keys := groupKeys(g.groups, 3)
			data := buildBatches(opsRows, 3,
				i64Col("k", func(row int, _ *rand.Rand) int64 { return keys[row] }),
				amountCol(), clicks)
			keys = nil
			defer releaseAll(data)
			out := runOp(b, spec, map[string]any{"by": "k", "aggregations": aggs}, data)
			if out != int64(g.groups) {
				b.Fatalf("groupby emitted %d groups, want %d", out, g.groups)
			}
		})
	}
	b.Run("strings", func(b *testing.B) {
		data := buildBatches(opsRows, 4, countryCol(), categoryCol(), amountCol(), clicks)
		defer releaseAll(data)
		out := runOp(b, spec, map[string]any{"by": []any{"country", "category"}, "aggregations": aggs}, data)
		if out < 900 || out > len64(countries)*len64(categories) {
			b.Fatalf("groupby emitted %d groups", out)
		}
		b.ReportMetric(float64(out), "groups")
	})
}

func len64[T any](s []T) int64 { return int64(len(s)) }

// BenchmarkSort: sort.apply over 1M rows (a float64 payload column
// besides the key) by a random int64 key, or by a random string key of
// 8–16 bytes (all under the default 256MiB memory budget: no spill).
func BenchmarkSort(b *testing.B) {
	spec := lookup(b, "sort.apply")
	payload := f64Col("v", func(r *rand.Rand) float64 { return r.Float64() })
	for _, k := range []struct {
		name string
		col  column
	}{
		{"int64", i64Col("key", func(_ int, r *rand.Rand) int64 { return r.Int64() })},
		{"string", strCol("key", func(_ int, r *rand.Rand) string {
			return fmt.Sprintf("user-%0*d", 3+r.IntN(9), r.Int64N(1e11))
		})},
	} {
		b.Run(k.name, func(b *testing.B) {
			data := buildBatches(sortRows, 5, k.col, payload)
			defer releaseAll(data)
			if out := runOp(b, spec, map[string]any{"by": "key"}, data); out != sortRows {
				b.Fatalf("sort emitted %d of %d rows", out, sortRows)
			}
		})
	}
}

// BenchmarkJoin: join.apply inner, left 4M rows with int64 keys uniform
// over [0, 200k) against right 100k rows with unique keys 0..100k (the
// build side): about half the left rows match. ns/row counts left and
// right rows.
func BenchmarkJoin(b *testing.B) {
	spec := lookup(b, "join.apply")
	const rightRows = 100_000
	left := buildBatches(opsRows, 6,
		i64Col("k", func(_ int, r *rand.Rand) int64 { return r.Int64N(2 * rightRows) }),
		f64Col("lv", func(r *rand.Rand) float64 { return r.Float64() }))
	defer releaseAll(left)
	right := buildBatches(rightRows, 7,
		i64Col("k", func(row int, _ *rand.Rand) int64 { return int64(row) }),
		f64Col("rv", func(r *rand.Rand) float64 { return r.Float64() }))
	defer releaseAll(right)
	out := runOp(b, spec, map[string]any{"on": "k", "how": "inner"}, left, right)
	if out < opsRows/3 || out > 2*opsRows/3 {
		b.Fatalf("join emitted %d rows", out)
	}
	b.ReportMetric(float64(out), "rows-out")
}
