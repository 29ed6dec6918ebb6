package generate

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// Spec is the spec of generate.
func Spec() *flow.Spec {
	return &flow.Spec{
		Name: "generate", Kind: flow.KindSource, Aliases: []string{"source.generate", "nexmark"},
		Summary: "Synthetic rows from expressions, or the Nexmark Person/Auction/Bid streams; count-bounded or endless, optionally rate-limited.",
		Description: `generate makes rows without reading anything: for load tests, benchmarks, demos and
pipeline tests. The output depends only on the parameters (given start_time), never on
batch sizes, rate or timing.

mode = "rows" (default): expressions (docs/expressions.md) over three base columns:
seq (int64, the row number from 0), ts (timestamp µs UTC: start_time + seq *
event_interval) and rand (float64, uniform in [0, 1), a function of seed and seq). The
output columns are those of the columns table, in the order written (for instance
id = "seq", user = "concat('user-', string(seq % 100))", amount = "round(rand * 100, 2)",
at = "ts"); without columns, seq and ts. Expressions are evaluated a batch at a time;
now() is the pipeline clock's time, read once per batch.

mode = "nexmark": the Nexmark benchmark's events. Per 50 events: 1 person, 3 auctions,
46 bids (in that order); person and auction ids are dense from 1000. A bid goes to the
hot auction (the latest auction id rounded down to a multiple of 100) half of the time,
otherwise to one of the last 100 auctions; its bidder is the hot person (likewise) three
times in four, otherwise one of the last 100 persons; auction sellers likewise. Prices
are in cents, log-uniform from $1 to $1,000,000. nexmark_table picks the stream: bid
(auction, bidder, price, channel, url, date_time, extra), auction (id, item_name,
description, initial_bid, reserve, date_time, expires, seller, category, extra), person
(id, name, email_address, credit_card, city, state, date_time, extra), or all (one row
per event: event_type 0 person, 1 auction, 2 bid, then the three tables' columns
prefixed person_, auction_, bid_, null where they do not apply). count and rate count
events of every kind: count = 1000 with nexmark_table = "bid" gives 920 bids.

Without count the source never ends: run it with ` + "`conveyor stream`" + `. With rate, rows (events)
are released at that many per second of the pipeline clock: a batch is cut when
batch_size rows are due, and at every linger tick with the rows due since the last cut.
Without rate, batches of batch_size rows follow each other as fast as the pipeline takes
them. event_interval (alias inter_event_delay) is the event time between consecutive
rows (events): by default 1/rate with a rate (event times then follow the clock), else
1ms for rows and 100µs for nexmark (Nexmark's default of 10,000 events/s). After each
batch a watermark (the next row's event time) is emitted, by default in mode nexmark
only (see watermarks). Only the columns the pipeline reads are built.`,
		Tags: []string{"generator", "stream", "benchmark"},
		Params: []flow.Param{
			{Name: "mode", Type: flow.TypeString, Default: "rows", Allowed: []string{"rows", "nexmark"},
				Doc: "rows: rows computed by columns; nexmark: the Nexmark benchmark's events."},
			{Name: "count", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
				Doc: "Rows (for nexmark: events of every kind) to generate; 0: endless (conveyor stream only)."},
			{Name: "rate", Type: flow.TypeFloat, Default: 0.0, Min: flow.F(0),
				Doc: "Rows (events) per second of the pipeline clock; 0: as fast as the pipeline takes them."},
			{Name: "columns", Type: flow.TypeTable,
				Doc: "mode rows: output column name → expression over seq, ts and rand, in the order written."},
			{Name: "seed", Type: flow.TypeInt, Default: int64(0), Doc: "Seed of rand and of the nexmark choices: the same seed gives the same rows."},
			{Name: "start_time", Type: flow.TypeString,
				Doc: "Event time of the first row (event), RFC 3339 (default: the clock's time when the stage starts)."},
			{Name: "event_interval", Type: flow.TypeDuration, Min: flow.F(0), Aliases: []string{"inter_event_delay"},
				Doc: "Event time between consecutive rows (events), down to 1ns; absent or 0: 1/rate, or without rate 1ms (rows) / 100µs (nexmark, Nexmark's 10,000 events/s)."},
			{Name: "nexmark_table", Type: flow.TypeString, Default: "bid", Allowed: []string{"bid", "auction", "person", "all"},
				Doc: "mode nexmark: the stream to emit (all: every event, one wide row each, with event_type)."},
			{Name: "batch_size", Type: flow.TypeInt, Min: flow.F(1), Doc: "Most rows per batch (default: the pipeline's batch_size)."},
			{Name: "linger", Type: flow.TypeDuration, Default: "100ms", Min: flow.F(0.000001),
				Doc: "With rate: the interval of the ticks at which the rows due are emitted when batch_size is not reached first."},
			{Name: "watermarks", Type: flow.TypeBool,
				Doc: "Emit a watermark after each batch (the event time of the next row): default true for nexmark, false for rows (whose expressions may reorder time)."},
		},
		Unbounded: func(cfg flow.Config) bool { return cfg.Int("count") == 0 },
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newGenerator(cfg, env)
		},
		Schema: func(cfg flow.Config, env flow.BuildEnv, _ []*arrow.Schema) (*arrow.Schema, error) {
			env.Columns = nil // the full schema; a projection only drops columns at run time
			g, err := newGenerator(cfg, env)
			if err != nil {
				return nil, err
			}
			return g.fullSchema, nil
		},
		Examples: []flow.Example{
			{
				Title: "Rows from expressions",
				Config: `count = 4
seed = 1
start_time = "2024-05-01T10:00:00Z"
event_interval = "30s"
[columns]
id = "seq + 1"
user = "concat('user-', string(seq % 2))"
amount = "round(rand * 100, 2)"
at = "ts"`,
				Output: `{"id":1,"user":"user-0","amount":73.1,"at":"2024-05-01T10:00:00Z"}
{"id":2,"user":"user-1","amount":18.42,"at":"2024-05-01T10:00:30Z"}
{"id":3,"user":"user-0","amount":6.69,"at":"2024-05-01T10:01:00Z"}
{"id":4,"user":"user-1","amount":68.81,"at":"2024-05-01T10:01:30Z"}
`,
			},
			{
				Title: "Nexmark bids (7 events: a person, 3 auctions, then bids)",
				Config: `mode = "nexmark"
count = 7
start_time = "2024-05-01T10:00:00Z"`,
				Output: `{"auction":1000,"bidder":1000,"price":991945,"channel":"Facebook","url":"https://www.nexmark.com/facebook/item.htm?query=1&channel_id=1","date_time":"2024-05-01T10:00:00.000400Z","extra":""}
{"auction":1000,"bidder":1000,"price":8337,"channel":"Apple","url":"https://www.nexmark.com/apple/item.htm?query=1&channel_id=3","date_time":"2024-05-01T10:00:00.000500Z","extra":""}
{"auction":1000,"bidder":1000,"price":162,"channel":"Apple","url":"https://www.nexmark.com/apple/item.htm?query=1&channel_id=3","date_time":"2024-05-01T10:00:00.000600Z","extra":""}
`,
			},
			{
				Title: "Nexmark persons (the first of every 50 events)",
				Config: `mode = "nexmark"
nexmark_table = "person"
count = 100
start_time = "2024-05-01T10:00:00Z"`,
				Output: `{"id":1000,"name":"Vicky Abrams","email_address":"vicky.abrams@example.com","credit_card":"4175 1147 5765 9526","city":"Bend","state":"OR","date_time":"2024-05-01T10:00:00Z","extra":""}
{"id":1001,"name":"Luke Jones","email_address":"luke.jones@example.com","credit_card":"4691 4083 6373 3994","city":"Phoenix","state":"AZ","date_time":"2024-05-01T10:00:00.005Z","extra":""}
`,
			},
		},
	}
}

// Register adds generate to r.
func Register(r *flow.Registry) { r.Register(Spec()) }
