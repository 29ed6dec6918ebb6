package generate

import (
	"context"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func run(t *testing.T, cfg map[string]any, env flow.BuildEnv) *flow.IsolatedResult {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	env.Alloc = mem
	res, err := flow.RunIsolated(context.Background(), Spec(), cfg, env, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Release)
	return res
}

func rowsCfg(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"count":          int64(1000),
		"start_time":     "2024-05-01T10:00:00Z",
		"event_interval": "250ms",
		"seed":           int64(7),
		"columns": map[string]any{
			"id":     "seq * 2",
			"bucket": "seq % 7",
			"score":  "rand",
			"at":     "ts",
			"label":  "if(rand < 0.5, 'low', 'high')",
		},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// Every row against a row-by-row reference, and the same output whatever
// the batch size.
func TestRowsAgainstReference(t *testing.T) {
	res := run(t, rowsCfg(map[string]any{"batch_size": int64(64)}), flow.BuildEnv{})
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	var n int64
	for _, b := range res.Output {
		if b.NumRows() > 64 {
			t.Fatalf("batch of %d rows, batch_size 64", b.NumRows())
		}
		s := b.Schema()
		col := func(name string) arrow.Array { return b.Column(s.FieldIndices(name)[0]) }
		id, bucket, score := col("id").(*array.Int64), col("bucket").(*array.Int64), col("score").(*array.Float64)
		at, label := col("at").(*array.Timestamp), col("label").(*array.String)
		for i := range int(b.NumRows()) {
			seq := n + int64(i)
			r := unitFloat(mix(7, uint64(seq)))
			wantLabel := "high"
			if r < 0.5 {
				wantLabel = "low"
			}
			wantAt := start.Add(time.Duration(seq) * 250 * time.Millisecond).UnixMicro()
			if id.Value(i) != seq*2 || bucket.Value(i) != seq%7 || score.Value(i) != r || int64(at.Value(i)) != wantAt || label.Value(i) != wantLabel {
				t.Fatalf("row %d: id %d bucket %d score %v at %v label %s", seq, id.Value(i), bucket.Value(i), score.Value(i), at.Value(i), label.Value(i))
			}
			if r < 0 || r >= 1 {
				t.Fatalf("rand %v out of [0, 1)", r)
			}
		}
		n += b.NumRows()
	}
	if n != 1000 {
		t.Fatalf("%d rows, want 1000", n)
	}
	again := run(t, rowsCfg(map[string]any{"batch_size": int64(1000)}), flow.BuildEnv{})
	if batch.ToNDJSON(again.Output...) != batch.ToNDJSON(res.Output...) {
		t.Error("the output depends on the batch size")
	}
	other := run(t, rowsCfg(map[string]any{"seed": int64(8)}), flow.BuildEnv{})
	if batch.ToNDJSON(other.Output...) == batch.ToNDJSON(res.Output...) {
		t.Error("another seed gave the same rows")
	}
}

func TestBadExpressionNamesTheColumn(t *testing.T) {
	_, err := flow.RunIsolated(context.Background(), Spec(), map[string]any{
		"count": int64(1), "columns": map[string]any{"x": "seq +* 2"}}, flow.BuildEnv{}, "")
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "columns.x" {
		t.Fatalf("error %v, want a ParamError on columns.x", err)
	}
	_, err = flow.RunIsolated(context.Background(), Spec(), map[string]any{
		"count": int64(1), "columns": map[string]any{"y": "amount * 2"}}, flow.BuildEnv{}, "")
	if !errors.As(err, &pe) || pe.Key != "columns.y" {
		t.Fatalf("error %v, want a ParamError on columns.y", err)
	}
}

func TestUnboundedWithoutCount(t *testing.T) {
	s := Spec()
	if !s.Unbounded(flow.Config{}) || s.Unbounded(flow.Config{"count": int64(5)}) {
		t.Error("generate is unbounded exactly when count is 0")
	}
}

// At rate 100 rows/s, 50 rows take half a second of the (mock) clock:
// the generator never runs ahead of the rate.
func TestRateOnTheMockClock(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	done := make(chan *flow.IsolatedResult)
	go func() {
		res, err := flow.RunIsolated(context.Background(), Spec(), map[string]any{
			"count": int64(50), "rate": 100.0, "linger": "100ms"}, flow.BuildEnv{Alloc: mem, Clock: clk}, "")
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var elapsed time.Duration
	for {
		select {
		case res := <-done:
			defer res.Release()
			var n int64
			for _, b := range res.Output {
				n += b.NumRows()
			}
			if n != 50 {
				t.Fatalf("%d rows, want 50", n)
			}
			if elapsed < 500*time.Millisecond {
				t.Fatalf("50 rows at 100/s done after %v of clock time", elapsed)
			}
			if len(res.Output) < 5 {
				t.Errorf("%d batches: rows were not spread over the lingers", len(res.Output))
			}
			// Event times follow the rate: 10ms apart.
			ts := res.Output[0].Column(1).(*array.Timestamp)
			if ts.Len() > 1 && ts.Value(1)-ts.Value(0) != 10000 {
				t.Errorf("event interval %dµs, want 10000", ts.Value(1)-ts.Value(0))
			}
			return
		default:
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
		clk.Add(10 * time.Millisecond)
		elapsed += 10 * time.Millisecond
		if elapsed > time.Hour {
			t.Fatal("never finished")
		}
	}
}

// An endless generator stops at the next batch when the pipeline drains.
func TestDrainStopsEndlessGenerator(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	reg := flow.NewRegistry()
	Register(reg)
	reg.Register(&flow.Spec{Name: "test.drop", Kind: flow.KindSink, Summary: "drops",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return dropSink{}, nil }})
	f, err := flow.Parse("g.toml", []byte(`[[stages]]
id = "g"
function = "generate"
[stages.config]
batch_size = 1000
[[stages]]
id = "d"
function = "test.drop"
inputs = ["g"]
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for r.Report()[1].RowsIn < 10000 {
		runtime.Gosched()
	}
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	if rep[0].RowsOut != rep[1].RowsIn || rep[0].RowsOut%1000 != 0 {
		t.Errorf("generated %d, written %d", rep[0].RowsOut, rep[1].RowsIn)
	}
}

type dropSink struct{}

func (dropSink) Write(context.Context, *flow.Stage, arrow.RecordBatch) error { return nil }
func (dropSink) Close(context.Context, *flow.Stage) error                    { return nil }
func (dropSink) Abort()                                                      {}

// The event mix and the ids of the Nexmark stream.
func TestNexmarkAllEvents(t *testing.T) {
	res := run(t, map[string]any{"mode": "nexmark", "nexmark_table": "all", "count": int64(5000),
		"start_time": "2024-05-01T10:00:00Z", "batch_size": int64(777)}, flow.BuildEnv{})
	counts := [3]int{}
	maxAuction, maxPerson := int64(-1), int64(-1)
	var lastTime int64 = math.MinInt64
	var events int64
	for _, b := range res.Output {
		s := b.Schema()
		col := func(name string) arrow.Array { return b.Column(s.FieldIndices(name)[0]) }
		kind := col("event_type").(*array.Int8)
		pid, aid := col("person_id").(*array.Int64), col("auction_id").(*array.Int64)
		bAuction, bBidder, price := col("bid_auction").(*array.Int64), col("bid_bidder").(*array.Int64), col("bid_price").(*array.Int64)
		bTime := col("bid_date_time").(*array.Timestamp)
		for i := range int(b.NumRows()) {
			counts[kind.Value(i)]++
			switch kind.Value(i) {
			case eventPerson:
				if pid.Value(i) != maxPerson+1 && !(maxPerson < 0 && pid.Value(i) == 1000) {
					t.Fatalf("event %d: person id %d after %d", events, pid.Value(i), maxPerson)
				}
				maxPerson = pid.Value(i)
			case eventAuction:
				if aid.IsNull(i) || !bAuction.IsNull(i) {
					t.Fatalf("event %d: auction row with wrong nulls", events)
				}
				maxAuction = max(maxAuction, aid.Value(i))
			case eventBid:
				if a := bAuction.Value(i); a < 1000 || a > maxAuction {
					t.Fatalf("event %d: bid on auction %d, latest auction %d", events, a, maxAuction)
				}
				if p := bBidder.Value(i); p < 1000 || p > maxPerson {
					t.Fatalf("event %d: bid by person %d, latest person %d", events, p, maxPerson)
				}
				if p := price.Value(i); p < 100 || p > 100_000_000 {
					t.Fatalf("event %d: price %d", events, p)
				}
				if int64(bTime.Value(i)) <= lastTime {
					t.Fatalf("event %d: time does not advance", events)
				}
				lastTime = int64(bTime.Value(i))
			}
			events++
		}
	}
	if counts != [3]int{100, 300, 4600} {
		t.Errorf("person/auction/bid counts %v, want [100 300 4600]", counts)
	}
	// The bid stream alone holds the same bids.
	bids := run(t, map[string]any{"mode": "nexmark", "count": int64(5000), "start_time": "2024-05-01T10:00:00Z"}, flow.BuildEnv{})
	var n int64
	for _, b := range bids.Output {
		n += b.NumRows()
	}
	if n != 4600 {
		t.Errorf("%d bids, want 4600", n)
	}
}
