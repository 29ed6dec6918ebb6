package bench

import (
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
)

// eventBatches builds n batches of rows events each, with the columns and
// types csv.read infers for bench/gendata's files.
func eventBatches(mem memory.Allocator, n, rows int) []arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: batch.Timestamp, Nullable: true},
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	r := rand.New(rand.NewPCG(42, 0x9e3779b97f4a7c15))
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	out := make([]arrow.RecordBatch, 0, n)
	for range n {
		b := array.NewRecordBuilder(mem, schema)
		tsb := b.Field(0).(*array.TimestampBuilder)
		uidb := b.Field(1).(*array.Int64Builder)
		cb := b.Field(2).(*array.StringBuilder)
		ab := b.Field(3).(*array.Float64Builder)
		catb := b.Field(4).(*array.StringBuilder)
		clb := b.Field(5).(*array.Int64Builder)
		for range rows {
			ts += int64(r.IntN(21))
			u := r.Float64()
			tsb.Append(arrow.Timestamp(ts * 1000))
			uidb.Append(int64(min(1+int(u*u*0.5*100000+u*0.5*100000), 100000)))
			cb.Append(countries[int(u*u*float64(len(countries)))%len(countries)])
			ab.Append(math.Round(math.Exp(3+r.NormFloat64())*100) / 100)
			catb.Append(categories[r.IntN(len(categories))])
			clb.Append(int64(-math.Log(1-r.Float64()) * 3))
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkCSVEncode measures the csv.write Encoder alone: one op encodes
// one 64k-row batch of the events columns into io.Discard. MB/s is of
// CSV text produced.
func BenchmarkCSVEncode(b *testing.B) {
	const nb, rows = 8, 64 << 10
	recs := eventBatches(memory.NewGoAllocator(), nb, rows)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var cw countWriter
	enc := csvconn.NewEncoder(&cw, csvconn.WriteOptions{Delimiter: ','})
	for _, r := range recs {
		if err := enc.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(cw.n / nb)
	enc = csvconn.NewEncoder(io.Discard, csvconn.WriteOptions{Delimiter: ','})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := enc.Write(recs[i%nb]); err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)*rows/b.Elapsed().Seconds(), "rows/s")
}
