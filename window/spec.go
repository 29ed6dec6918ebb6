package window

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/aggregate"
)

// Register adds window.apply (aliases window.tumbling, window.sliding,
// window.session, window.count, transform.window) and aggregate.stream
// (alias transform.aggregate_stream) to r.
func Register(r *flow.Registry) {
	r.Register(ApplySpec())
	r.Register(StreamSpec())
}

const semanticsDoc = `Event time and watermarks. With time_column (a timestamp column, or an integer column
of epoch milliseconds) each row's window is decided by its event time. The stage's
watermark W means "no row older than W is expected": per input, the largest event time
seen minus watermark_delay (bounded out-of-orderness); over several inputs, the minimum
(an input that ended no longer holds it back, nor one silent for idle_timeout, until it
speaks again); it is raised further by watermarks arriving from upstream, and never
goes back. A window [start, end) is complete when W >= end. Without time_column the
windows run on processing time: each row takes the time it arrives (on the pipeline's
clock) and a window fires when the clock reaches its end, even if no row arrives.

Lateness. A row is late when every window it belongs to has been purged, i.e. when
end + allowed_lateness <= W for each of them (for sessions: for the session it would
join). Late rows are never dropped silently: they leave unchanged by the stage's
"late" port (take them with inputs = ["<id>.late"]); when nothing consumes the port
they go to the dead-letter output with reason "late". They are counted as the stage's
late rows. Rows whose time is null are rejected (error policy of the stage).

Emit modes. emit = "final" (default): a window is emitted once, when
W >= end + allowed_lateness, so rows up to allowed_lateness late are included and
nothing is emitted twice. emit = "update": a window is emitted when W >= end, then
re-emitted each time a late row (within allowed_lateness) updates it: the re-emitted
row carries the group's full, updated aggregates (not a delta), right after the batch
that brought the late row. Its state is released when W >= end + allowed_lateness.
A session that a late row extends past W fires again when W passes its new end (its
window_end changes).

Output watermark. After emitting, the stage forwards W - allowed_lateness downstream:
no output row with an earlier window_end follows.

End of input and shutdown. When every input has ended the watermark is +∞: every open
window is emitted (count windows too, even if not full), then the stage ends. When
` + "`conveyor stream`" + ` drains (SIGINT/SIGTERM), on_shutdown says what happens to the open
windows: "emit" (default) emits them as at the end of input, "drop" discards them
(counted in the log).

Order and determinism. Windows are emitted in order of window_end, then window_start,
then first appearance of the group key in the window (for sessions: of the key in the
input). The same input in the same order with the same settings gives the same output,
whatever the batch boundaries (with emit = "update", how many updates are emitted may
depend on them; the final values do not).

Memory. A window's state is released when it is emitted (with emit = "update", when
its lateness has passed); sessions release their state when they close. Key values are
kept in a key table while any window is open (it is dropped when all windows have
closed and it holds more than 65536 keys). The state's size is reported as the stage's
peak memory.`

// ApplySpec returns window.apply's spec.
func ApplySpec() *flow.Spec {
	return &flow.Spec{
		Name:    applyName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.window", "window.tumbling", "window.sliding", "window.session", "window.count"},
		Tags:    []string{"streaming", "window", "stateful"},
		Summary: "Group rows into tumbling, sliding, session or count windows (event or processing time) and aggregate each window.",
		Description: `Window types (type):
  tumbling  fixed, non-overlapping windows of size, aligned on the Unix epoch:
            [k*size, (k+1)*size).
  sliding   windows of size starting every slide (hopping), aligned on the epoch: a row
            at time t belongs to every window with start in (t-size, t], that is
            ceil(size/slide) windows when slide divides size.
  session   per group key, rows closer than gap to each other form one session; the
            window is [first row time, last row time + gap). A row that falls within gap
            of two sessions merges them. (size is accepted as the gap.)
  count     per group key, every size rows form one window, in arrival order; it is
            emitted as soon as it is full (watermarks do not apply). window_start and
            window_end are the times of its first and last row (event time with
            time_column, arrival time otherwise), both inclusive.
  For compatibility with the original Conveyor, type = "tumbling" with an integer size
  and no time_column is a count window of size rows. An integer size with time_column
  is seconds.

Output with aggregations (one-stage form): one row per window and group: window_start,
window_end (timestamps, UTC, µs; written as RFC 3339 in JSON and CSV), the group_by
keys, then the aggregations in the configured order. aggregations are exactly those
of groupby.apply: a list of {column, operation, output_column}.

` + aggregate.AggregationDocs + `

Output without aggregations (two-stage form, the original pair with aggregate.stream):
each window's rows, unchanged, with window_start and window_end appended (count windows
also get window_id, numbering the windows from 1), in window order and in arrival
order within a window and group; a sliding window's row is emitted once per window.
Then aggregate.stream aggregates them per window.

` + semanticsDoc,
		Params: []flow.Param{
			{Name: "type", Type: flow.TypeString, Default: "tumbling", Allowed: []string{"tumbling", "sliding", "session", "count"}, Doc: "Window type."},
			{Name: "size", Type: flow.TypeAny, Doc: "Window length as a duration (\"1m\", \"30s\"); for count windows, rows per window (an integer)."},
			{Name: "slide", Type: flow.TypeDuration, Doc: "Sliding windows: how often a window starts (at most size)."},
			{Name: "gap", Type: flow.TypeDuration, Doc: "Session windows: inactivity that closes a session."},
			{Name: "time_column", Type: flow.TypeString, Doc: "Event-time column: timestamp, or integer epoch milliseconds. Absent: processing time."},
			{Name: "watermark_delay", Type: flow.TypeDuration, Doc: "Bounded out-of-orderness: the watermark trails the largest event time seen by this much (default 0)."},
			{Name: "allowed_lateness", Type: flow.TypeDuration, Doc: "How long after its end a window still accepts late rows (default 0)."},
			{Name: "idle_timeout", Type: flow.TypeDuration, Doc: "An input silent this long (processing time) stops holding the watermark back (default: never)."},
			{Name: "group_by", Type: flow.TypeStringOrList, Doc: "Group key column(s): one result per window and key; sessions and count windows are per key."},
			{Name: "aggregations", Type: flow.TypeList, Doc: "List of {column, operation, output_column} as in groupby.apply. Absent: emit the windows' rows (two-stage form)."},
			{Name: "emit", Type: flow.TypeString, Default: "final", Allowed: []string{"final", "update"}, Doc: "final: one result per window; update: emit at the window end, then again on each late update."},
			{Name: "on_shutdown", Type: flow.TypeString, Default: "emit", Allowed: []string{"emit", "drop"}, Doc: "What a drain of `conveyor stream` does with open windows."},
		},
		Ports: []string{PortLate},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			_, errs := parseApply(cfg)
			return errs
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			s, errs := parseApply(cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			return &op{e: newEngine(s, env)}, nil
		},
		Schema: func(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
			s, errs := parseApply(cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			return schemaOf(s, inputs)
		},
		Uses: func(cfg flow.Config, needed []string) []string {
			s, errs := parseApply(cfg)
			if len(errs) > 0 {
				return nil
			}
			return s.uses()
		},
		Examples: []flow.Example{
			{
				Title: "Tumbling 1-minute windows per country (event time)",
				Config: `type = "tumbling"
size = "1m"
time_column = "ts"
group_by = "country"
aggregations = [
  { operation = "count" },
  { column = "amount", operation = "sum", output_column = "total" },
]
`,
				Input: `{"ts":"2024-05-01T10:00:05Z","country":"FR","amount":10}
{"ts":"2024-05-01T10:00:40Z","country":"US","amount":5}
{"ts":"2024-05-01T10:00:50Z","country":"FR","amount":7}
{"ts":"2024-05-01T10:01:10Z","country":"FR","amount":1}
`,
				Output: `{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"FR","count":2,"total":17}
{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"US","count":1,"total":5}
{"window_start":"2024-05-01T10:01:00Z","window_end":"2024-05-01T10:02:00Z","country":"FR","count":1,"total":1}
`,
			},
			{
				Title: "Sessions per user, 5-minute gap (a row bridging two sessions merges them)",
				Config: `type = "session"
gap = "5m"
time_column = "ts"
group_by = "user"
watermark_delay = "10m"
aggregations = [
  { operation = "count", output_column = "events" },
  { column = "ts", operation = "first" },
  { column = "ts", operation = "last" },
]
`,
				Input: `{"ts":"2024-05-01T10:00:00Z","user":"ann"}
{"ts":"2024-05-01T10:08:00Z","user":"ann"}
{"ts":"2024-05-01T10:04:00Z","user":"ann"}
{"ts":"2024-05-01T10:30:00Z","user":"ann"}
`,
				Output: `{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:13:00Z","user":"ann","events":3,"ts_first":"2024-05-01T10:00:00Z","ts_last":"2024-05-01T10:04:00Z"}
{"window_start":"2024-05-01T10:30:00Z","window_end":"2024-05-01T10:35:00Z","user":"ann","events":1,"ts_first":"2024-05-01T10:30:00Z","ts_last":"2024-05-01T10:30:00Z"}
`,
			},
			{
				Title: "Count windows of 2 rows per sensor, rows kept for aggregate.stream (two-stage form)",
				Config: `type = "count"
size = 2
time_column = "ts"
group_by = "sensor"
`,
				Input: `{"ts":"2024-05-01T10:00:00Z","sensor":"a","x":1}
{"ts":"2024-05-01T10:00:01Z","sensor":"b","x":2}
{"ts":"2024-05-01T10:00:02Z","sensor":"a","x":3}
{"ts":"2024-05-01T10:00:03Z","sensor":"a","x":4}
`,
				Output: `{"ts":"2024-05-01T10:00:00Z","sensor":"a","x":1,"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:00:02Z","window_id":1}
{"ts":"2024-05-01T10:00:02Z","sensor":"a","x":3,"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:00:02Z","window_id":1}
{"ts":"2024-05-01T10:00:03Z","sensor":"a","x":4,"window_start":"2024-05-01T10:00:03Z","window_end":"2024-05-01T10:00:03Z","window_id":2}
{"ts":"2024-05-01T10:00:01Z","sensor":"b","x":2,"window_start":"2024-05-01T10:00:01Z","window_end":"2024-05-01T10:00:01Z","window_id":3}
`,
			},
		},
	}
}

// StreamSpec returns aggregate.stream's spec.
func StreamSpec() *flow.Spec {
	return &flow.Spec{
		Name:    streamName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.aggregate_stream", "window.aggregate"},
		Tags:    []string{"streaming", "window", "stateful"},
		Summary: "Aggregate the rows of each window emitted by window.apply (the original two-stage form).",
		Description: `Takes the output of window.apply without aggregations (rows carrying window_start and
window_end, and window_id for count windows) and aggregates them per window and
group_by key. Either aggregations (a list of {column, operation, output_column}, as
in groupby.apply) or the original single form operation, column (and output_column).

A window's groups are emitted when the incoming watermark passes its window_end (the
watermark window.apply forwards already accounts for its allowed_lateness), count
windows (rows with a window_id) at the end of the batch that carries them, and every
remaining window at the end of input. A row whose window was already emitted leaves by
the "late" port. Output: window_start, window_end, the group_by keys, then the
aggregations; windows in order of window_end, window_start, then first appearance of
the key. The result equals window.apply with the same aggregations (one-stage form).

` + aggregate.AggregationDocs,
		Params: []flow.Param{
			{Name: "group_by", Type: flow.TypeStringOrList, Doc: "Group key column(s) within each window."},
			{Name: "aggregations", Type: flow.TypeList, Doc: "List of {column, operation, output_column} as in groupby.apply."},
			{Name: "operation", Type: flow.TypeString, Doc: "Single-aggregation form: the operation (sum avg mean count count_distinct min max median std var first last)."},
			{Name: "column", Type: flow.TypeString, Doc: "Single-aggregation form: the column."},
			{Name: "output_column", Type: flow.TypeString, Doc: "Single-aggregation form: the result's name (default <column>_<operation>)."},
			{Name: "idle_timeout", Type: flow.TypeDuration, Doc: "An input silent this long stops holding the watermark back."},
		},
		Ports: []string{PortLate},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			_, errs := parseStream(cfg)
			return errs
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			s, errs := parseStream(cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			return &op{e: newEngine(s, env)}, nil
		},
		Schema: func(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
			s, errs := parseStream(cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			return schemaOf(s, inputs)
		},
		Uses: func(cfg flow.Config, needed []string) []string {
			s, errs := parseStream(cfg)
			if len(errs) > 0 {
				return nil
			}
			return s.uses()
		},
		Examples: []flow.Example{
			{
				Title: "Sum per window and country",
				Config: `group_by = "country"
operation = "sum"
column = "amount"
`,
				Input: `{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"FR","amount":10}
{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"FR","amount":7}
{"window_start":"2024-05-01T10:01:00Z","window_end":"2024-05-01T10:02:00Z","country":"FR","amount":1}
{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"US","amount":5}
`,
				Output: `{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"FR","amount_sum":17}
{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"US","amount_sum":5}
{"window_start":"2024-05-01T10:01:00Z","window_end":"2024-05-01T10:02:00Z","country":"FR","amount_sum":1}
`,
			},
			{
				Title: "Count windows from window.apply (original pair)",
				Config: `aggregations = [ { column = "x", operation = "sum" }, { operation = "count" } ]
`,
				Input: `{"x":1,"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:00Z","window_id":1}
{"x":2,"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:00Z","window_id":1}
{"x":3,"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:00Z","window_id":2}
`,
				Output: `{"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:00Z","x_sum":3,"count":2}
{"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:00Z","x_sum":3,"count":1}
`,
			},
		},
	}
}

func schemaOf(s *settings, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) == 0 || inputs[0] == nil {
		return nil, nil
	}
	var out *arrow.Schema
	for _, in := range inputs {
		b, err := s.bind(in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = b.out
		}
	}
	return out, nil
}
