package order

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// benchInput makes n rows (key int64 random, s string random 8-16 bytes,
// v float64) in 64k-row batches.
func benchInput(n int) []arrow.RecordBatch {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	r := rand.New(rand.NewPCG(1, 2))
	var out []arrow.RecordBatch
	for start := 0; start < n; start += 65536 {
		m := min(65536, n-start)
		b := array.NewRecordBuilder(mem, schema)
		for i := 0; i < m; i++ {
			b.Field(0).(*array.Int64Builder).Append(r.Int64())
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user-%x", r.Uint64()>>r.IntN(32)))
			b.Field(2).(*array.Float64Builder).Append(r.Float64())
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

func benchSort(b *testing.B, n int, cfg map[string]any) {
	in := benchInput(n)
	defer func() {
		for _, x := range in {
			x.Release()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, x := range in {
			x.Retain()
		}
		res, err := flow.RunIsolated(context.Background(), SortSpec(), cfg, flow.BuildEnv{}, "", in)
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

func BenchmarkSort(b *testing.B) {
	b.Run("int64/1M", func(b *testing.B) { benchSort(b, 1<<20, map[string]any{"by": "key"}) })
	b.Run("string/1M", func(b *testing.B) { benchSort(b, 1<<20, map[string]any{"by": "s"}) })
}

func BenchmarkSortSpill(b *testing.B) {
	b.Run("int64/1M/8MiB", func(b *testing.B) {
		benchSort(b, 1<<20, map[string]any{"by": "key", "memory_limit": "8MiB", "temp_dir": b.TempDir()})
	})
}
