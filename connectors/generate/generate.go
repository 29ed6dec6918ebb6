// Package generate provides the generate source: synthetic rows computed
// by expressions, or the event streams of the Nexmark benchmark, bounded
// by a count or endless, as fast as possible or at a fixed rate.
package generate

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// Spec is the spec of generate.
func Spec() *flow.Spec {
	return &flow.Spec{
		Name: "generate", Kind: flow.KindSource, Aliases: []string{"source.generate", "nexmark"},
		Summary: "Synthetic rows from expressions, or the Nexmark Person/Auction/Bid streams; count-bounded or endless, optionally rate-limited.",
		Description: `generate makes rows without reading anything: for load tests, benchmarks, demos and
pipeline tests.

mode = "rows" (default): every row has three base columns the expressions of columns
can use: seq (int64, the row number from 0), ts (timestamp: start_time + seq *
event_interval) and rand (float64, uniform in [0, 1), a deterministic function of seed
and seq). The output columns are those of columns, in order (for instance
id = "seq", user = "concat('user-', string(seq % 100))", amount = "round(rand * 100, 2)");
without columns, seq and ts. Expressions are evaluated per batch, vectorized, with the
whole expression language (docs/expressions.md).

mode = "nexmark": the event streams of the Nexmark benchmark. Per 50 events: 1 person,
3 auctions, 46 bids; ids are dense (persons from 1000, auctions from 1000); a bid goes
to the hot auction (the latest auction id rounded down to a multiple of 100) half of
the time, otherwise to one of the 100 latest auctions; its bidder is the hot person
(likewise) three times in four, otherwise one of the 100 latest persons; prices (cents)
are log-uniform from $1 to $1,000,000; event times advance by event_interval per event. nexmark_table
picks the stream: bid (auction, bidder, price, channel, url, date_time, extra),
auction (id, item_name, description, initial_bid, reserve, date_time, expires, seller,
category, extra), person (id, name, email_address, credit_card, city, state, date_time,
extra), or all (event_type 0 person, 1 auction, 2 bid, then the three tables' columns
prefixed person_, auction_, bid_, null where they do not apply). count counts events of
every kind, so with count = 1000 and nexmark_table = "bid" 920 bids are emitted.

Without count the source never ends: run it with ` + "`conveyor stream`" + `. With rate, rows are
emitted at that many per second of the pipeline clock, in batches every linger (or of
batch_size rows when that fills first); without it, as fast as the pipeline takes them
(backpressure holds the generator). event_interval defaults to 1/rate with a rate (so
event times follow the clock when start_time is now), 1ms otherwise for rows and
100µs for nexmark events. start_time defaults to the clock's time at the start. The
output is the same for the same parameters (given start_time), whatever the batch size.`,
		Tags: []string{"generator", "stream", "benchmark"},
		Params: []flow.Param{
			{Name: "mode", Type: flow.TypeString, Default: "rows", Allowed: []string{"rows", "nexmark"},
				Doc: "rows: rows computed by columns; nexmark: the Nexmark benchmark's events."},
			{Name: "count", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
				Doc: "Rows (for nexmark: events) to generate; 0: endless (conveyor stream only)."},
			{Name: "rate", Type: flow.TypeFloat, Default: 0.0, Min: flow.F(0),
				Doc: "Rows (events) per second of the pipeline clock; 0: as fast as the pipeline takes them."},
			{Name: "columns", Type: flow.TypeTable,
				Doc: "mode rows: output column name → expression over seq, ts and rand, in order."},
			{Name: "seed", Type: flow.TypeInt, Default: int64(0), Doc: "Seed of rand and of the nexmark choices."},
			{Name: "start_time", Type: flow.TypeString,
				Doc: "Event time of the first row, RFC 3339 (default: the clock's time when the stage starts)."},
			{Name: "event_interval", Type: flow.TypeDuration,
				Doc: "Event time between consecutive rows (events); default 1/rate, or 1ms (rows) / 100µs (nexmark) without rate."},
			{Name: "nexmark_table", Type: flow.TypeString, Default: "bid", Allowed: []string{"bid", "auction", "person", "all"},
				Doc: "mode nexmark: which stream to emit."},
			{Name: "batch_size", Type: flow.TypeInt, Min: flow.F(1), Doc: "Most rows per batch (default: the pipeline's batch size)."},
			{Name: "linger", Type: flow.TypeDuration, Default: "100ms",
				Doc: "With rate: how often a batch of the rows due is emitted."},
		},
		Unbounded: func(cfg flow.Config) bool { return cfg.Int("count") == 0 },
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newGenerator(cfg, env)
		},
		Schema: func(cfg flow.Config, env flow.BuildEnv, _ []*arrow.Schema) (*arrow.Schema, error) {
			g, err := newGenerator(cfg, env)
			if err != nil {
				return nil, err
			}
			return g.schema(), nil
		},
		Examples: []flow.Example{
			{
				Title: "Rows from expressions",
				Config: `count = 4
start_time = "2024-05-01T10:00:00Z"
event_interval = "30s"
[columns]
id = "seq + 1"
user = "concat('user-', string(seq % 2))"
ts = "ts"`,
				Output: `{"id":1,"user":"user-0","ts":"2024-05-01T10:00:00Z"}
{"id":2,"user":"user-1","ts":"2024-05-01T10:00:30Z"}
{"id":3,"user":"user-0","ts":"2024-05-01T10:01:00Z"}
{"id":4,"user":"user-1","ts":"2024-05-01T10:01:30Z"}
`,
			},
			{
				Title: "Nexmark persons (the first of every 50 events)",
				Config: `mode = "nexmark"
nexmark_table = "person"
count = 100
start_time = "2024-05-01T10:00:00Z"`,
				Output: `{"id":1000,"name":"Julie Jones","email_address":"julie.jones@example.com","credit_card":"4000 0000 0000 1000","city":"Phoenix","state":"AZ","date_time":"2024-05-01T10:00:00Z","extra":""}
{"id":1001,"name":"Vicky Abrams","email_address":"vicky.abrams@example.com","credit_card":"4000 0000 0000 1001","city":"Cheyenne","state":"WY","date_time":"2024-05-01T10:00:00.005Z","extra":""}
`,
			},
		},
	}
}

// Register adds generate to r.
func Register(r *flow.Registry) { r.Register(Spec()) }

// producer fills batches of rows [from, from+n).
type producer interface {
	schema() *arrow.Schema
	// produce returns the rows for events [from, from+n); it may return
	// fewer rows than events (nexmark tables skip other event kinds) or
	// nil when none.
	produce(st *flow.Stage, from, n int64) (arrow.RecordBatch, error)
}

type generator struct {
	producer
	count    int64
	rate     float64
	batch    int64
	linger   time.Duration
	start    time.Time // zero: the clock's now at Run
	interval time.Duration
	setStart func(time.Time)
}

func newGenerator(cfg flow.Config, env flow.BuildEnv) (*generator, error) {
	g := &generator{count: int64(cfg.Int("count")), rate: cfg.Float("rate"), batch: int64(cfg.Int("batch_size")),
		linger: cfg.Duration("linger"), interval: cfg.Duration("event_interval")}
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
			return nil, &flow.ParamError{Key: "start_time", Err: fmt.Errorf("generate: start_time %q is not RFC 3339", s)}
		}
		g.start = t
	}
	nexmark := cfg.Str("mode") == "nexmark"
	if g.interval <= 0 {
		switch {
		case g.rate > 0:
			g.interval = time.Duration(float64(time.Second) / g.rate)
		case nexmark:
			g.interval = 100 * time.Microsecond
		default:
			g.interval = time.Millisecond
		}
	}
	seed := uint64(cfg.Int("seed"))
	if nexmark {
		if cfg.Has("columns") {
			return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("generate: columns does not apply to mode = \"nexmark\"")}
		}
		table := cfg.Str("nexmark_table")
		if table == "" {
			table = "bid"
		}
		nx := newNexmark(table, seed, g.interval)
		g.producer, g.setStart = nx, nx.setStart
		return g, nil
	}
	rp, err := newRows(cfg, env, seed, g.interval)
	if err != nil {
		return nil, err
	}
	g.producer, g.setStart = rp, rp.setStart
	return g, nil
}

// Run generates until count, a drain, or cancellation.
func (g *generator) Run(ctx context.Context, st *flow.Stage) error {
	begin := st.Clock.Now()
	start := g.start
	if start.IsZero() {
		start = begin
	}
	g.setStart(start)
	var next int64 // next event number
	for {
		if g.count > 0 && next >= g.count {
			return nil
		}
		n := g.batch
		if g.count > 0 {
			n = min(n, g.count-next)
		}
		if g.rate > 0 {
			// Rows due by now; wait a linger when none (or too few to
			// fill a batch) are due yet.
			due := int64(g.rate*st.Clock.Since(begin).Seconds()) - next
			if due < n {
				timer := st.Clock.Timer(g.linger)
				select {
				case <-timer.C:
				case <-st.Draining():
					timer.Stop()
					return nil
				case <-ctx.Done():
					timer.Stop()
					return ctx.Err()
				}
				due = int64(g.rate*st.Clock.Since(begin).Seconds()) - next
				if due <= 0 {
					continue
				}
				n = min(n, due)
			}
		}
		b, err := g.produce(st, next, n)
		if err != nil {
			return err
		}
		next += n
		if b != nil {
			if err := st.Emit(ctx, b); err != nil {
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
}
