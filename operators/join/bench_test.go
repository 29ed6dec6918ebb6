package join

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

func benchTable(n, keys int, name string, seed uint64) []arrow.RecordBatch {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: name, Type: arrow.PrimitiveTypes.Float64}}, nil)
	r := rand.New(rand.NewPCG(seed, 1))
	var out []arrow.RecordBatch
	for start := 0; start < n; start += 65536 {
		m := min(65536, n-start)
		b := array.NewRecordBuilder(mem, schema)
		for i := 0; i < m; i++ {
			if keys == n {
				b.Field(0).(*array.Int64Builder).Append(int64(start + i))
			} else {
				b.Field(0).(*array.Int64Builder).Append(int64(r.IntN(keys)))
			}
			b.Field(1).(*array.Float64Builder).Append(r.Float64())
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

// BenchmarkJoin: 1M left rows (keys uniform over 0..200k) against 100k
// right rows with unique keys 0..100k: about half the left rows match.
func BenchmarkJoin(b *testing.B) {
	const nl, nr = 1 << 20, 100_000
	left := benchTable(nl, 200_000, "lv", 1)
	right := benchTable(nr, nr, "rv", 2)
	for _, how := range []string{"inner", "left", "semi"} {
		b.Run(how, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for _, x := range left {
					x.Retain()
				}
				for _, x := range right {
					x.Retain()
				}
				res, err := flow.RunIsolated(context.Background(), JoinSpec(), map[string]any{"on": "k", "how": how}, flow.BuildEnv{}, "", left, right)
				if err != nil {
					b.Fatal(err)
				}
				res.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(nl+nr)), "ns/row")
		})
	}
}
