package window

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// benchRows is the input size of the window benchmarks (the peers'
// comparison uses the 10M-row CSV of bench/gendata: same shape).
const benchRows = 4_000_000

var benchCountries = []string{"US", "CN", "IN", "BR", "DE", "JP", "GB", "FR", "IT", "CA",
	"KR", "RU", "AU", "ES", "MX", "ID", "NL", "SA", "TR", "CH",
	"PL", "SE", "BE", "TH", "IE", "AR", "NO", "IL", "AT", "NG",
	"ZA", "DK", "SG", "MY", "PH", "EG", "VN", "BD", "CL", "FI",
	"RO", "CZ", "PT", "NZ", "PE", "GR", "IQ", "KZ", "HU", "UA"}

var benchData []arrow.RecordBatch

// eventBatches builds bench/gendata's events: ts ~10ms apart (sorted),
// user_id 1..100000 skewed, country among 50 (Zipf-like), amount.
func eventBatches() []arrow.RecordBatch {
	if benchData != nil {
		return benchData
	}
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: batch.Timestamp, Nullable: true},
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	r := rand.New(rand.NewPCG(42, 0x9e3779b97f4a7c15))
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	const per = 65536
	for lo := 0; lo < benchRows; lo += per {
		n := min(per, benchRows-lo)
		tb := array.NewTimestampBuilder(mem, batch.Timestamp.(*arrow.TimestampType))
		ub := array.NewInt64Builder(mem)
		cb := array.NewStringBuilder(mem)
		ab := array.NewFloat64Builder(mem)
		for range n {
			ts += int64(r.IntN(21))
			u := r.Float64()
			tb.Append(arrow.Timestamp(ts * 1000))
			ub.Append(int64(min(1+int(u*u*0.5*100000+u*0.5*100000), 100000)))
			cb.Append(benchCountries[int(u*u*float64(len(benchCountries)))%len(benchCountries)])
			ab.Append(math.Round(math.Exp(3+r.NormFloat64())*100) / 100)
		}
		cols := []arrow.Array{tb.NewArray(), ub.NewArray(), cb.NewArray(), ab.NewArray()}
		benchData = append(benchData, array.NewRecordBatch(schema, cols, int64(n)))
		for _, c := range cols {
			c.Release()
		}
		tb.Release()
		ub.Release()
		cb.Release()
		ab.Release()
	}
	return benchData
}

func benchWindow(b *testing.B, cfg map[string]any) {
	data := eventBatches()
	b.ReportAllocs()
	b.ResetTimer()
	var out int64
	for range b.N {
		for _, d := range data {
			d.Retain()
		}
		res, err := flow.RunIsolated(context.Background(), ApplySpec(), cfg, flow.BuildEnv{Clock: clock.NewMock()}, "", data)
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
	b.ReportMetric(float64(out), "windows")
}

var benchAggs = []any{
	map[string]any{"operation": "count"},
	map[string]any{"column": "amount", "operation": "sum"},
}

// Tumbling 1-minute windows per country: count, sum(amount).
func BenchmarkTumbling1mPerCountry(b *testing.B) {
	benchWindow(b, map[string]any{"type": "tumbling", "size": "1m", "time_column": "ts", "group_by": "country", "aggregations": benchAggs})
}

// Sliding 5-minute windows every minute per country.
func BenchmarkSliding5m1mPerCountry(b *testing.B) {
	benchWindow(b, map[string]any{"type": "sliding", "size": "5m", "slide": "1m", "time_column": "ts", "group_by": "country", "aggregations": benchAggs})
}

// 5-minute-gap sessions per user_id: count, sum(amount), first and last ts.
func BenchmarkSession5mPerUser(b *testing.B) {
	benchWindow(b, map[string]any{"type": "session", "gap": "5m", "time_column": "ts", "group_by": "user_id", "aggregations": []any{
		map[string]any{"operation": "count"},
		map[string]any{"column": "amount", "operation": "sum"},
		map[string]any{"column": "ts", "operation": "first"},
		map[string]any{"column": "ts", "operation": "last"},
	}})
}
