package bench

// Nexmark benchmarks: the pipelines of bench/nexmark (q0 pass-through,
// q1 currency conversion, q2 selection, q5 hot items, q7 highest bid), fed
// by generate in nexmark mode, run through the real runtime with the
// catalog's stages. events/s counts every Nexmark event generated (person,
// auction and bid) per second of wall time.
//
//	go test ./bench -run none -bench Nexmark -benchtime 1x
//	NEXMARK_EVENTS=10000000 go test ./bench -run none -bench 'Nexmark/' -benchtime 3x
//
// BenchmarkNexmarkLatency runs q0 at a fixed rate (NEXMARK_RATE, default
// 100k events/s, for NEXMARK_SECONDS, default 5) and reports the latency
// from an event's creation time (its date_time: generate's event times
// follow the clock at a fixed rate) to the moment the sink receives it,
// p50 and p99. NEXMARK_LINGER (default 10ms) is generate's linger: a batch
// leaves the source every linger, so it bounds the latency from below.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// runPipelineFile validates and runs a pipeline file with reg.
func runPipelineFile(b *testing.B, reg *flow.Registry, path string) *flow.Runner {
	b.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return runPipelineText(b, reg, path, src)
}

func runPipelineText(b *testing.B, reg *flow.Registry, name string, src []byte) *flow.Runner {
	b.Helper()
	f, err := flow.Parse(name, src)
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
	return r
}

func BenchmarkNexmark(b *testing.B) {
	events := envInt("NEXMARK_EVENTS", 2_000_000)
	b.Setenv("NEXMARK_EVENTS", strconv.Itoa(events))
	reg := catalog.Registry()
	for _, q := range []string{"q0", "q1", "q2", "q5", "q7"} {
		b.Run(q, func(b *testing.B) {
			var out int64
			for range b.N {
				r := runPipelineFile(b, reg, filepath.Join("nexmark", q+".toml"))
				rep := r.Report()
				out = rep[len(rep)-1].RowsIn
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(out), "rows_out")
		})
	}
}

// latencySink records, for every row, now - date_time.
type latencySink struct {
	mu  *sync.Mutex
	lat *[]time.Duration
}

func (s latencySink) Write(_ context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	now := st.Clock.Now().UnixMicro()
	ts := b.Column(b.Schema().FieldIndices("date_time")[0]).(*array.Timestamp)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ts.Len() {
		*s.lat = append(*s.lat, time.Duration(now-int64(ts.Value(i)))*time.Microsecond)
	}
	return nil
}
func (latencySink) Close(context.Context, *flow.Stage) error { return nil }
func (latencySink) Abort()                                   {}

func BenchmarkNexmarkLatency(b *testing.B) {
	rate := envInt("NEXMARK_RATE", 100_000)
	seconds := envInt("NEXMARK_SECONDS", 5)
	linger := os.Getenv("NEXMARK_LINGER")
	if linger == "" {
		linger = "10ms"
	}
	var mu sync.Mutex
	var lat []time.Duration
	reg := catalog.Registry()
	reg.Register(&flow.Spec{Name: "bench.latency", Kind: flow.KindSink, Summary: "records latencies",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return latencySink{&mu, &lat}, nil }})
	src := fmt.Sprintf(`[pipeline]
name = "nexmark_latency"
[[stages]]
id = "bids"
function = "generate"
[stages.config]
mode = "nexmark"
count = %d
rate = %d
linger = %q
[[stages]]
id = "sink"
function = "bench.latency"
inputs = ["bids"]
`, rate*seconds, rate, linger)
	for range b.N {
		lat = lat[:0]
		runPipelineText(b, reg, "latency.toml", []byte(src))
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(q(1).Microseconds())/1000, "max_ms")
	b.ReportMetric(float64(len(lat)), "rows")
}
