package generate

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/connectors/discard"
	"github.com/conveyor-etl/conveyor/flow"
)

// go test ./connectors/generate -run none -bench . -benchtime 2s
//
// BenchmarkGenerate* measure one generator goroutine building 65536-row
// batches (then released); rows/s is the figure to read.

func benchProducer(b *testing.B, p producer, batch int64, unit string) {
	b.Helper()
	mem := memory.NewGoAllocator()
	p.setStart(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixMicro())
	var ev, rows int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec, err := p.produce(mem, ev, batch)
		if err != nil {
			b.Fatal(err)
		}
		rows += rec.NumRows()
		rec.Release()
		ev += batch
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), unit)
}

// The bid stream, every column (events / 46 * 50 per second of bids).
func BenchmarkGenerateNexmarkBids(b *testing.B) {
	benchProducer(b, newNexmark("bid", 1, 100*time.Microsecond, nil), 65536*50/46, "rows/s")
}

// The bid stream when the pipeline reads auction, price and date_time only.
func BenchmarkGenerateNexmarkBidsProjected(b *testing.B) {
	benchProducer(b, newNexmark("bid", 1, 100*time.Microsecond, []string{"auction", "price", "date_time"}), 65536*50/46, "rows/s")
}

// Every event, one wide row each (25 columns, mostly null).
func BenchmarkGenerateNexmarkAll(b *testing.B) {
	benchProducer(b, newNexmark("all", 1, 100*time.Microsecond, nil), 65536, "rows/s")
}

// Rows mode: four expressions over seq, ts and rand.
func BenchmarkGenerateRows(b *testing.B) {
	cfg := flow.Config{"columns": map[string]any{
		"id": "seq", "user": "concat('user-', string(seq % 1000))", "amount": "round(rand * 100, 2)", "at": "ts"}}
	p, err := newRows(cfg, flow.BuildEnv{}, 1, time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	benchProducer(b, p, 65536, "rows/s")
}

// Rows mode, numbers only (no string column).
func BenchmarkGenerateRowsNumeric(b *testing.B) {
	cfg := flow.Config{"columns": map[string]any{"id": "seq", "bucket": "seq % 1000", "amount": "round(rand * 100, 2)", "at": "ts"}}
	p, err := newRows(cfg, flow.BuildEnv{}, 1, time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	benchProducer(b, p, 65536, "rows/s")
}

// generate → discard.write through the runtime: the bid stream as a
// pipeline source (10M events per iteration is too long; 2M).
func BenchmarkGeneratePipelineBids(b *testing.B) {
	reg := flow.NewRegistry()
	Register(reg)
	discard.Register(reg)
	var bids int64
	b.ReportAllocs()
	for range b.N {
		f, err := flow.Parse("bench.toml", []byte(`[[stages]]
id = "bids"
function = "generate"
[stages.config]
mode = "nexmark"
count = 2000000
start_time = "2024-05-01T10:00:00Z"
[[stages]]
id = "sink"
function = "discard.write"
inputs = ["bids"]
`))
		if err != nil {
			b.Fatal(err)
		}
		g, err := flow.Validate(f, reg)
		if err != nil {
			b.Fatal(err)
		}
		r, err := flow.NewRunner(g, flow.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		bids += r.Report()[1].RowsIn
	}
	b.ReportMetric(float64(bids)/b.Elapsed().Seconds(), "rows/s")
}
