package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/connectors/parquet"
	"github.com/conveyor-etl/conveyor/flow"
)

// collect is a sink that keeps (retains) every batch it gets.
type collect struct{ out *[]arrow.RecordBatch }

func (c collect) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	b.Retain()
	*c.out = append(*c.out, b)
	return nil
}
func (collect) Close(context.Context, *flow.Stage) error { return nil }
func (collect) Abort()                                   {}

// BenchmarkParquetWrite measures the parquet.write stage alone (zstd, the
// default row groups) on the event batches csv.read produces, which are
// read into memory outside the timed part. CONVEYOR_BENCH_CSV picks the
// input file as for the CSV benchmarks.
func BenchmarkParquetWrite(b *testing.B) {
	dir, path, size := benchInput(b)
	var batches []arrow.RecordBatch
	defer func() {
		for _, x := range batches {
			x.Release()
		}
	}()
	reg := benchRegistry()
	reg.Register(&flow.Spec{Name: "bench.collect", Kind: flow.KindSink, Summary: "collect",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return collect{&batches}, nil }})
	rows := runPipeline(b, fmt.Sprintf(`[pipeline]
name = "load"
[[stages]]
id = "read"
function = "csv.read"
[stages.config]
path = %q
[[stages]]
id = "out"
function = "bench.collect"
inputs = ["read"]
`, path), reg, dir)
	out := filepath.Join(dir, "out.parquet")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, x := range batches {
			x.Retain()
		}
		res, err := flow.RunIsolated(context.Background(), parquet.WriteSpec(), map[string]any{"path": out}, flow.BuildEnv{}, "", batches)
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.StopTimer()
	if st, err := os.Stat(out); err == nil {
		b.ReportMetric(float64(st.Size())/1e6, "MB-out")
	}
	report(b, rows, size)
}
