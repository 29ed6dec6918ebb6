package aggregate_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
	"github.com/conveyor-etl/conveyor/operators/aggregate"
)

type discard struct{ rows *int64 }

func (d discard) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	*d.rows += b.NumRows()
	return nil
}
func (discard) Close(context.Context, *flow.Stage) error { return nil }
func (discard) Abort()                                   {}

// BenchmarkPipelineGroupBy runs csv.read -> filter.apply (amount > 10) ->
// groupby.apply (country, category: count, sum(amount), avg(clicks)) over
// the file named by CONVEYOR_BENCH_CSV (e.g. bench/data/events_10000000.csv);
// it is skipped without it.
func BenchmarkPipelineGroupBy(b *testing.B) {
	path := os.Getenv("CONVEYOR_BENCH_CSV")
	if path == "" {
		b.Skip("CONVEYOR_BENCH_CSV not set")
	}
	path, _ = filepath.Abs(path)
	reg := catalog.Registry()
	if _, ok := reg.Lookup("groupby.apply"); !ok {
		aggregate.Register(reg)
	}
	var rows int64
	reg.Register(&flow.Spec{Name: "bench.discard", Kind: flow.KindSink, Summary: "discard",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return discard{&rows}, nil }})
	src := `
[[stages]]
id = "read"
function = "csv.read"
[stages.config]
path = "` + path + `"
[[stages]]
id = "big"
function = "filter.apply"
inputs = ["read"]
[stages.config]
column = "amount"
operator = ">"
value = 10
[[stages]]
id = "agg"
function = "groupby.apply"
inputs = ["big"]
[stages.config]
by = ["country", "category"]
aggregations = [
  { operation = "count" },
  { column = "amount", operation = "sum" },
  { column = "clicks", operation = "avg" },
]
[[stages]]
id = "out"
function = "bench.discard"
inputs = ["agg"]
`
	for range b.N {
		rows = 0
		f, err := flow.Parse(filepath.Join(b.TempDir(), "p.toml"), []byte(src))
		if err != nil {
			b.Fatal(err)
		}
		g, err := flow.Validate(f, reg)
		if err != nil {
			b.Fatal(err)
		}
		r, err := flow.NewRunner(g, flow.Options{Alloc: memory.NewGoAllocator()})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, rep := range r.Report() {
			if rep.ID == "agg" {
				b.ReportMetric(float64(rep.PeakBytes), "agg-peak-bytes")
			}
		}
	}
	b.Logf("%d groups", rows)
}
