package csvconn

import (
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkParseChunk measures one worker parsing an 8 MiB chunk of
// /work/data-like events (single goroutine: the per-core throughput).
func BenchmarkParseChunk(b *testing.B) {
	data, err := os.ReadFile("/work/data/events_10m.csv")
	if err != nil {
		b.Skip("no data file")
	}
	data = data[:8<<20]
	rd, _ := newReader(DefaultReadOptions(), memory.NewGoAllocator())
	f := &feeder{r: nil, buf: data, eof: true}
	pr, _ := rd.probe(f, "x", true)
	lays, _ := rd.resolve([]*probeResult{pr}, nil)
	end, _ := rd.sc.cut(f.buf, 65536, false)
	c := &chunk{data: f.buf[:end], line: 2}
	p := rd.newParser(lays[0], "x")
	b.SetBytes(int64(end))
	b.ReportAllocs()
	for range b.N {
		r := p.parse(c)
		r.release()
	}
	p.close()
}
