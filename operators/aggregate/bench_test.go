package aggregate

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

const (
	benchRows  = 4 << 20
	benchBatch = 64 << 10
)

// benchData builds benchRows rows in 64k-row batches: an int64 key k in
// [0, groups), string keys c1 x c2 with c1*c2 = groups, amount (float64)
// and clicks (int64).
func benchData(groups, c1 int) []arrow.RecordBatch {
	mem := memory.DefaultAllocator
	c2 := groups / c1
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "country", Type: arrow.BinaryTypes.String},
		{Name: "category", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	n1, n2 := make([]string, c1), make([]string, c2)
	for i := range n1 {
		n1[i] = fmt.Sprintf("C%d", i)
	}
	for i := range n2 {
		n2[i] = fmt.Sprintf("category-%d", i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var out []arrow.RecordBatch
	for range benchRows / benchBatch {
		b := array.NewRecordBuilder(mem, schema)
		for range benchBatch {
			b.Field(0).(*array.Int64Builder).Append(r.Int64N(int64(groups)))
			b.Field(1).(*array.StringBuilder).Append(n1[r.IntN(c1)])
			b.Field(2).(*array.StringBuilder).Append(n2[r.IntN(c2)])
			b.Field(3).(*array.Float64Builder).Append(r.Float64() * 100)
			b.Field(4).(*array.Int64Builder).Append(r.Int64N(10))
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

func BenchmarkGroupBy(b *testing.B) {
	aggs := []any{
		map[string]any{"operation": "count"},
		map[string]any{"column": "amount", "operation": "sum"},
		map[string]any{"column": "clicks", "operation": "avg"},
	}
	for _, sh := range []struct {
		groups, c1 int
	}{{10, 5}, {1000, 50}, {10_000, 100}, {1_000_000, 1000}} {
		data := benchData(sh.groups, sh.c1)
		for _, keys := range []struct {
			name string
			by   any
		}{{"int64", "k"}, {"string,string", []any{"country", "category"}}} {
			if sh.groups == 1000 && keys.name == "int64" {
				continue // the 1000-group case is the (country, category) pipeline's shape
			}
			b.Run(fmt.Sprintf("%s/groups=%d", keys.name, sh.groups), func(b *testing.B) {
				cfg := map[string]any{"by": keys.by, "aggregations": aggs}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					for _, d := range data {
						d.Retain()
					}
					res, err := flow.RunIsolated(context.Background(), GroupBySpec(), cfg, flow.BuildEnv{}, "", data)
					if err != nil {
						b.Fatal(err)
					}
					res.Release()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
			})
		}
		for _, d := range data {
			d.Release()
		}
	}
}
