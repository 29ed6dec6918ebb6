package generate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// producer builds the rows of events [from, from+n).
type producer interface {
	// setStart fixes the event time of event 0 (unix µs).
	setStart(us int64)
	// produce returns the rows of events [from, from+n), or nil when none
	// of them is a row of the output (a nexmark table skips the other
	// event kinds).
	produce(mem memory.Allocator, from, n int64) (arrow.RecordBatch, error)
	// eventTime is the event time of event e (unix µs).
	eventTime(e int64) int64
}

type generator struct {
	p          producer
	fullSchema *arrow.Schema // before projection
	count      int64         // 0: endless
	rate       float64       // events per second; 0: unpaced
	batch      int64
	linger     time.Duration
	start      time.Time // zero: the clock's time at Run
	watermarks bool
}

func newGenerator(cfg flow.Config, env flow.BuildEnv) (*generator, error) {
	g := &generator{count: int64(cfg.Int("count")), rate: cfg.Float("rate"), batch: int64(cfg.Int("batch_size")),
		linger: cfg.Duration("linger")}
	if g.batch <= 0 {
		g.batch = int64(env.BatchSize)
	}
	if g.batch <= 0 {
		g.batch = 65536
	}
	if g.linger <= 0 {
		g.linger = flow.DefaultLinger
	}
	if s := cfg.Str("start_time"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, &flow.ParamError{Key: "start_time", Err: fmt.Errorf("generate: start_time %q is not an RFC 3339 time (e.g. \"2024-05-01T10:00:00Z\")", s)}
		}
		g.start = t
	}
	nexmark := cfg.Str("mode") == "nexmark"
	interval := cfg.Duration("event_interval")
	if interval <= 0 {
		switch {
		case g.rate > 0:
			interval = time.Duration(math.Round(float64(time.Second) / g.rate))
		case nexmark:
			interval = 100 * time.Microsecond
		default:
			interval = time.Millisecond
		}
	}
	interval = max(interval, 1)
	g.watermarks = nexmark
	if cfg.Has("watermarks") {
		g.watermarks = cfg.Bool("watermarks")
	}
	seed := uint64(cfg.Int("seed"))
	if nexmark {
		if cfg.Has("columns") {
			return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("generate: columns only applies to mode = \"rows\"; the nexmark columns are fixed (pick them with select.apply)")}
		}
		nx := newNexmark(cfg.Str("nexmark_table"), seed, interval, env.Columns)
		g.p, g.fullSchema = nx, nx.full
		return g, nil
	}
	rp, err := newRows(cfg, env, seed, interval)
	if err != nil {
		return nil, err
	}
	g.p, g.fullSchema = rp, rp.full
	return g, nil
}

// avail is the time after the start of the run at which event k is due
// under rate: events are released at rate per second, event k once
// (k+1)/rate seconds have passed.
func (g *generator) avail(k int64) time.Duration {
	return time.Duration(math.Ceil(float64(k+1) * float64(time.Second) / g.rate))
}

// due is the number of events due el after the start of the run (the
// inverse of avail, computed so that the two always agree).
func (g *generator) due(el time.Duration) int64 {
	m := max(int64(float64(el)*g.rate/float64(time.Second)), 0)
	for m > 0 && g.avail(m-1) > el {
		m--
	}
	for g.avail(m) <= el {
		m++
	}
	return m
}

// Run generates until count, a drain, or cancellation.
func (g *generator) Run(ctx context.Context, st *flow.Stage) error {
	begin := st.Clock.Now()
	start := g.start
	if start.IsZero() {
		start = begin
	}
	g.p.setStart(start.UnixMicro())
	var next int64 // the next event
	for g.count == 0 || next < g.count {
		n := g.batch
		if g.count > 0 {
			n = min(n, g.count-next)
		}
		if g.rate > 0 {
			el := st.Clock.Since(begin)
			if g.due(el)-next < n {
				// Wait until n events are due, or until the first
				// linger tick at which at least one is.
				first := g.avail(next)
				wake := min(g.avail(next+n-1), (first+g.linger-1)/g.linger*g.linger)
				if wake > el {
					timer := st.Clock.Timer(wake - el)
					select {
					case <-timer.C:
					case <-st.Draining():
						timer.Stop()
						return nil
					case <-ctx.Done():
						timer.Stop()
						return ctx.Err()
					}
				}
				n = min(n, g.due(st.Clock.Since(begin))-next)
				if n <= 0 {
					continue // the clock went back: wait again
				}
			}
		}
		b, err := g.p.produce(st.Alloc, next, n)
		if err != nil {
			return fmt.Errorf("stage %q: %w", st.ID, err)
		}
		next += n
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
		if g.watermarks {
			// Event times never decrease: none before the next event's.
			if err := st.EmitWatermark(ctx, time.UnixMicro(g.p.eventTime(next)).UTC()); err != nil {
				return err
			}
		}
		select {
		case <-st.Draining():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
	return nil
}

// clock of event times: event e happens at start + e*interval, in µs,
// without overflow for any realistic e (the interval is split into whole
// µs and a remainder in ns).
type eventClock struct {
	start    int64 // µs
	us, frac int64 // interval = us µs + frac ns
}

func newEventClock(interval time.Duration) eventClock {
	ns := max(int64(interval), 1)
	return eventClock{us: ns / 1000, frac: ns % 1000}
}

func (c *eventClock) at(e int64) int64 { return c.start + e*c.us + e*c.frac/1000 }
