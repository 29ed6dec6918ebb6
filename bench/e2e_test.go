package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// e2ePipeline is the pipeline of bench/peers.sh; it reads its input from
// $CONVEYOR_BENCH_CSV and writes to $CONVEYOR_BENCH_OUT.
const e2ePipeline = "../examples/bench_groupby.toml"

// BenchmarkPipelineFilterGroupBy runs examples/bench_groupby.toml through the
// catalog: csv.read → filter.apply (amount > 10) → groupby.apply (country,
// category: count, sum(amount), avg(clicks)) → csv.write, the query that
// bench/peers.sh times against DuckDB. The input is 1M generated rows, or the
// file named by CONVEYOR_BENCH_CSV (e.g. the 10M-row file of bench/gendata).
// It skips while groupby.apply is not registered.
func BenchmarkPipelineFilterGroupBy(b *testing.B) {
	reg := benchRegistry()
	for _, fn := range []string{"csv.read", "filter.apply", "groupby.apply", "csv.write"} {
		if _, ok := reg.Lookup(fn); !ok {
			b.Skipf("stage %s is not registered in internal/catalog yet; %s needs it", fn, e2ePipeline)
		}
	}
	src, err := os.ReadFile(e2ePipeline)
	if err != nil {
		b.Fatal(err)
	}
	dir, path, size := benchInput(b)
	abs, err := filepath.Abs(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("CONVEYOR_BENCH_CSV", abs)
	b.Setenv("CONVEYOR_BENCH_OUT", filepath.Join(dir, "groupby_out.csv"))
	f, err := flow.Parse(e2ePipeline, src)
	if err != nil {
		b.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var rows, groups, peak int64
	for range b.N {
		r, err := flow.NewRunner(g, flow.Options{Alloc: memory.NewGoAllocator()})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, rep := range r.Report() {
			switch rep.ID {
			case "load":
				rows = rep.RowsOut
			case "by_country_category":
				groups = rep.RowsOut
				peak = max(peak, rep.PeakBytes)
			}
		}
	}
	b.StopTimer()
	if rows == 0 || groups == 0 {
		b.Fatalf("pipeline read %d rows and produced %d groups", rows, groups)
	}
	report(b, rows, size)
	b.ReportMetric(float64(groups), "groups")
	b.ReportMetric(float64(peak)/1e6, "state-MB")
}
