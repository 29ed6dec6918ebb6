package generate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/connectors/discard"
	"github.com/conveyor-etl/conveyor/flow"
)

// stepClock is a mock clock that reports every timer the generator sets,
// once set, so that a test advances the clock exactly when the generator
// waits: the run is deterministic, with no sleep. jump is added to the
// time read (a jump of the clock that fires no timer by itself).
type stepClock struct {
	*clock.Mock
	timers chan time.Duration
	jump   atomic.Int64
}

func (c *stepClock) Now() time.Time { return c.Mock.Now().Add(time.Duration(c.jump.Load())) }

func (c *stepClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func newStepClock() *stepClock {
	c := &stepClock{Mock: clock.NewMock(), timers: make(chan time.Duration, 1)}
	c.Set(may1)
	return c
}

func (c *stepClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	c.timers <- d
	return t
}

type paced struct {
	waits   []time.Duration // the timers set, in order
	batches []int64         // rows per batch
	elapsed time.Duration   // clock time from start to end
	res     *flow.IsolatedResult
}

// runPaced runs generate on a stepClock, firing each timer the generator
// sets when it is due; jump (when not nil) says by how much the clock
// jumps further before timer i fires.
func runPaced(t *testing.T, cfg map[string]any, jump func(i int) time.Duration) paced {
	t.Helper()
	clk := newStepClock()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	type result struct {
		res *flow.IsolatedResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := flow.RunIsolated(context.Background(), Spec(), cfg, flow.BuildEnv{Alloc: mem, Clock: clk}, "")
		done <- result{res, err}
	}()
	var p paced
	for {
		select {
		case d := <-clk.timers:
			if jump != nil {
				clk.jump.Add(int64(jump(len(p.waits))))
			}
			p.waits = append(p.waits, d)
			clk.Add(d)
			if len(p.waits) > 10000 {
				t.Fatal("never finished")
			}
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			t.Cleanup(r.res.Release)
			p.res = r.res
			for _, b := range r.res.Output {
				p.batches = append(p.batches, b.NumRows())
			}
			p.elapsed = clk.Now().Sub(may1)
			return p
		}
	}
}

// At 100 rows/s with the default linger (100ms), 50 rows take half a
// second of the clock, in 5 batches of the 10 rows due in each linger;
// event times follow the clock (10ms apart from the start).
func TestRateOnTheMockClock(t *testing.T) {
	p := runPaced(t, map[string]any{"count": int64(50), "rate": 100.0}, nil)
	if fmt.Sprint(p.waits) != "[100ms 100ms 100ms 100ms 100ms]" || fmt.Sprint(p.batches) != "[10 10 10 10 10]" {
		t.Errorf("waits %v, batches %v", p.waits, p.batches)
	}
	if p.elapsed != 500*time.Millisecond {
		t.Errorf("50 rows at 100/s took %v of clock time", p.elapsed)
	}
	var i int64
	for _, b := range p.res.Output {
		ts := column(t, b, "ts").(*array.Timestamp)
		for j := range ts.Len() {
			if want := may1.Add(time.Duration(i) * 10 * time.Millisecond).UnixMicro(); int64(ts.Value(j)) != want {
				t.Fatalf("row %d at %d, want %d", i, ts.Value(j), want)
			}
			i++
		}
	}
}

// A batch is cut as soon as batch_size rows are due, before the linger
// tick; the tick then takes the rest.
func TestRateCutsAtBatchSize(t *testing.T) {
	p := runPaced(t, map[string]any{"count": int64(100), "rate": 1000.0, "batch_size": int64(30), "linger": "100ms"}, nil)
	if fmt.Sprint(p.waits) != "[30ms 30ms 30ms 10ms]" || fmt.Sprint(p.batches) != "[30 30 30 10]" {
		t.Errorf("waits %v, batches %v", p.waits, p.batches)
	}
	if p.elapsed != 100*time.Millisecond {
		t.Errorf("took %v", p.elapsed)
	}
	// Ticks are on the linger grid: at 250 rows/s, 40 rows are 25 a tick.
	p = runPaced(t, map[string]any{"count": int64(40), "rate": 250.0, "linger": "100ms"}, nil)
	if fmt.Sprint(p.batches) != "[25 15]" || fmt.Sprint(p.waits) != "[100ms 60ms]" {
		t.Errorf("waits %v, batches %v", p.waits, p.batches)
	}
}

// When the clock jumps (the pipeline was held up), the rows due are
// emitted at once, in full batches, without waiting; then the pace
// resumes on the same schedule.
func TestRateCatchesUp(t *testing.T) {
	p := runPaced(t, map[string]any{"count": int64(50), "rate": 100.0, "batch_size": int64(20)},
		func(int) time.Duration { return time.Second })
	if fmt.Sprint(p.waits) != "[100ms]" || fmt.Sprint(p.batches) != "[20 20 10]" {
		t.Errorf("waits %v, batches %v", p.waits, p.batches)
	}
	// A jump of 150ms at the first tick: 25 rows due at 250ms, then the
	// ticks at 300ms, 400ms and 500ms.
	p = runPaced(t, map[string]any{"count": int64(50), "rate": 100.0}, func(i int) time.Duration {
		if i == 0 {
			return 150 * time.Millisecond
		}
		return 0
	})
	if fmt.Sprint(p.waits) != "[100ms 50ms 100ms 100ms]" || fmt.Sprint(p.batches) != "[25 5 10 10]" || p.elapsed != 500*time.Millisecond {
		t.Errorf("waits %v, batches %v, elapsed %v", p.waits, p.batches, p.elapsed)
	}
}

// Nexmark rates count events: 100 events/s for one second are 2 persons,
// 6 auctions and 92 bids in all, 92 rows of the bid table.
func TestNexmarkRate(t *testing.T) {
	p := runPaced(t, map[string]any{"mode": "nexmark", "count": int64(100), "rate": 100.0, "linger": "250ms"}, nil)
	if fmt.Sprint(p.waits) != "[250ms 250ms 250ms 250ms]" || rowCount(p.res.Output) != 92 || p.elapsed != time.Second {
		t.Errorf("waits %v, batches %v, elapsed %v", p.waits, p.batches, p.elapsed)
	}
}

// Spec.Unbounded: endless exactly when count is 0.
func TestUnboundedWithoutCount(t *testing.T) {
	s := Spec()
	for _, tc := range []struct {
		cfg  map[string]any
		want bool
	}{{map[string]any{}, true}, {map[string]any{"count": int64(0), "rate": 5.0}, true},
		{map[string]any{"count": int64(5)}, false}, {map[string]any{"mode": "nexmark"}, true}} {
		cfg, errs := flow.CheckConfig(s, tc.cfg)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if s.Unbounded(cfg) != tc.want {
			t.Errorf("%v: unbounded %v", tc.cfg, !tc.want)
		}
	}
	g := pipeline(t, "generate", "", nil)
	if unb := g.UnboundedSources(); len(unb) != 1 {
		t.Errorf("unbounded sources %v (conveyor run refuses them)", unb)
	}
}

// pipeline validates generate (config body cfg) → sink (a registered
// function name) and returns the graph.
func pipeline(t *testing.T, sink, cfg string, extra func(*flow.Registry)) *flow.Graph {
	t.Helper()
	reg := flow.NewRegistry()
	Register(reg)
	discard.Register(reg)
	if extra != nil {
		extra(reg)
	}
	if sink == "generate" {
		sink = "discard.write"
	}
	f, err := flow.Parse("g.toml", []byte(`[[stages]]
id = "g"
function = "generate"
[stages.config]
`+cfg+`
[[stages]]
id = "sink"
function = "`+sink+`"
inputs = ["g"]
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// An endless generator stops at the next batch when the pipeline drains,
// and ends cleanly: everything generated is delivered.
func TestDrainStopsEndlessGenerator(t *testing.T) {
	for _, cfg := range []string{"batch_size = 1000", `mode = "nexmark"` + "\nbatch_size = 1000"} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r, err := flow.NewRunner(pipeline(t, "discard.write", cfg, nil), flow.Options{Alloc: mem})
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
		if rep[0].RowsOut != rep[1].RowsIn || rep[0].BatchesOut != rep[1].BatchesIn {
			t.Errorf("generated %d rows, written %d", rep[0].RowsOut, rep[1].RowsIn)
		}
		mem.AssertSize(t, 0)
	}
}

// A paced generator waiting for its next tick stops at once on a drain,
// and on cancellation returns the context's error.
func TestDrainAndCancelWhileWaiting(t *testing.T) {
	clk := newStepClock()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := flow.NewRunner(pipeline(t, "discard.write", "rate = 10.0", nil), flow.Options{Alloc: mem, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	clk.Add(<-clk.timers) // one tick: one row
	<-clk.timers          // waiting for the next
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := r.Report()[1].RowsIn; n != 1 {
		t.Errorf("%d rows, want 1", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		res, err := flow.RunIsolated(ctx, Spec(), map[string]any{"rate": 10.0}, flow.BuildEnv{Alloc: mem, Clock: clk}, "")
		if res != nil {
			res.Release()
		}
		errc <- err
	}()
	<-clk.timers
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// recorder is a test sink that keeps what arrives: each batch's event
// times and the watermarks between them.
type recorder struct {
	col    string
	events []string // "b <min> <max>" or "w <t>"
}

func (r *recorder) Run(ctx context.Context, st *flow.Stage) error {
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil || !ok {
			return err
		}
		switch msg.Kind {
		case flow.MsgData:
			ts := msg.Batch.Column(msg.Batch.Schema().FieldIndices(r.col)[0]).(*array.Timestamp)
			r.events = append(r.events, fmt.Sprintf("b %d %d", ts.Value(0), ts.Value(ts.Len()-1)))
			msg.Batch.Release()
		case flow.MsgWatermark:
			r.events = append(r.events, fmt.Sprintf("w %d", msg.Watermark.UnixMicro()))
		}
	}
}

// After each batch, the watermark is the next event's time: above every
// row before it, at most every row after it. Mode rows emits none unless
// asked.
func TestWatermarks(t *testing.T) {
	for _, tc := range []struct {
		cfg, col string
		want     []string
	}{
		{`mode = "nexmark"
count = 120
batch_size = 50
start_time = "2024-05-01T10:00:00Z"`, "date_time", []string{
			fmt.Sprintf("b %d %d", us(4*100), us(49*100)), fmt.Sprintf("w %d", us(50*100)),
			fmt.Sprintf("b %d %d", us(54*100), us(99*100)), fmt.Sprintf("w %d", us(100*100)),
			fmt.Sprintf("b %d %d", us(104*100), us(119*100)), fmt.Sprintf("w %d", us(120*100))}},
		{`count = 20
batch_size = 10
start_time = "2024-05-01T10:00:00Z"`, "ts", []string{
			fmt.Sprintf("b %d %d", us(0), us(9000)), fmt.Sprintf("b %d %d", us(10000), us(19000))}},
		{`count = 20
batch_size = 10
watermarks = true
start_time = "2024-05-01T10:00:00Z"`, "ts", []string{
			fmt.Sprintf("b %d %d", us(0), us(9000)), fmt.Sprintf("w %d", us(10000)),
			fmt.Sprintf("b %d %d", us(10000), us(19000)), fmt.Sprintf("w %d", us(20000))}},
	} {
		rec := &recorder{col: tc.col}
		g := pipeline(t, "test.record", tc.cfg, func(reg *flow.Registry) {
			reg.Register(&flow.Spec{Name: "test.record", Kind: flow.KindSink, Summary: "records",
				New: func(flow.Config, flow.BuildEnv) (any, error) { return rec, nil }})
		})
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(rec.events) != fmt.Sprint(tc.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", tc.cfg, rec.events, tc.want)
		}
		mem.AssertSize(t, 0)
	}
}

// us is the unix µs of may1 plus d µs.
func us(d int64) int64 { return may1.UnixMicro() + d }
