package generate

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// go test ./connectors/generate -run none -bench . : events (rows) per
// second of one generator goroutine.
func BenchmarkNexmarkBids(b *testing.B) {
	nx := newNexmark("bid", 1, 100*time.Microsecond)
	st := &flow.Stage{Alloc: memory.NewGoAllocator()}
	const batch = 65536
	var ev int64
	b.ResetTimer()
	for range b.N {
		rec := nx.bids(st.Alloc, ev, batch)
		rec.Release()
		ev += batch
	}
	b.ReportMetric(float64(ev)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkRowsExpressions(b *testing.B) {
	cfg := flow.Config{"columns": map[string]any{"id": "seq", "user": "seq % 1000", "amount": "round(rand * 100, 2)", "ts": "ts"}}
	p, err := newRows(cfg, flow.BuildEnv{}, 1, time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	st := &flow.Stage{Alloc: memory.NewGoAllocator()}
	const batch = 65536
	var n int64
	b.ResetTimer()
	for range b.N {
		rec, err := p.produce(st, n, batch)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}
