package window

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

type ackEvents struct {
	mu sync.Mutex
	ev []string
}

func (a *ackEvents) add(s string) { a.mu.Lock(); a.ev = append(a.ev, s); a.mu.Unlock() }

// batchesThenBarriers emits each NDJSON batch followed by a barrier.
type batchesThenBarriers struct {
	batches []string
	log     *ackEvents
}

func (s batchesThenBarriers) Run(ctx context.Context, st *flow.Stage) error {
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us}, {Name: "user", Type: arrow.BinaryTypes.String}}, nil)
	for i, rows := range s.batches {
		b, err := batch.FromNDJSON(st.Alloc, rows, schema)
		if err != nil {
			return err
		}
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
		k := i
		if err := st.EmitBarrier(ctx, func() { s.log.add(fmt.Sprintf("ack:%d", k)) }); err != nil {
			return err
		}
	}
	return nil
}

// writeThrough logs each window row (start-end user n) and acknowledges
// barriers at once.
type writeThrough struct{ log *ackEvents }

func (w writeThrough) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	for _, r := range batch.Rows(b) {
		start := fmt.Sprint(r["window_start"])
		end := fmt.Sprint(r["window_end"])
		w.log.add(fmt.Sprintf("win:%s-%s:%v:%v", start[11:16], end[11:16], r["user"], r["n"]))
	}
	return nil
}
func (writeThrough) Close(context.Context, *flow.Stage) error   { return nil }
func (writeThrough) Abort()                                     {}
func (writeThrough) Durable(context.Context, *flow.Stage) error { return nil }

func runWithBarriers(t *testing.T, windowCfg string, batches ...string) []string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	log := &ackEvents{}
	reg := flow.NewRegistry()
	Register(reg)
	reg.Register(&flow.Spec{Name: "test.src", Kind: flow.KindSource, Summary: "batches and barriers",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return batchesThenBarriers{batches, log}, nil }})
	reg.Register(&flow.Spec{Name: "test.out", Kind: flow.KindSink, Summary: "logs",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return writeThrough{log}, nil }})
	src := `[[stages]]
id = "src"
function = "test.src"
[[stages]]
id = "w"
function = "window.apply"
inputs = ["src"]
[stages.config]
time_column = "ts"
group_by = "user"
aggregations = [{ operation = "count", output_column = "n" }]
` + windowCfg + `
[[stages]]
id = "out"
function = "test.out"
inputs = ["w"]
`
	f, err := flow.Parse("p.toml", []byte(src))
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
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return log.ev
}

// A barrier passes a window stage only once every row received before it
// has been emitted: here when the window holding it closes.
func TestBarriersWaitForTheirWindows(t *testing.T) {
	ev := runWithBarriers(t, `type = "tumbling"
size = "1m"`,
		`{"ts":"2024-05-01T10:00:10Z","user":"a"}`,
		`{"ts":"2024-05-01T10:00:50Z","user":"a"}`,
		`{"ts":"2024-05-01T10:01:20Z","user":"a"}`,
		`{"ts":"2024-05-01T10:02:30Z","user":"b"}`,
	)
	want := "win:10:00-10:01:a:2 ack:0 ack:1 win:10:01-10:02:a:1 ack:2 win:10:02-10:03:b:1 ack:3"
	if got := strings.Join(ev, " "); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
}

// Sessions: a barrier waits for the session that holds its rows, also when
// later rows extend the session or merge it with another.
func TestBarriersWaitForTheirSessions(t *testing.T) {
	ev := runWithBarriers(t, `type = "session"
gap = "5m"
watermark_delay = "10m"`,
		`{"ts":"2024-05-01T10:00:00Z","user":"a"}`,
		`{"ts":"2024-05-01T10:08:00Z","user":"a"}`,
		`{"ts":"2024-05-01T10:04:00Z","user":"a"}`, // bridges the two: one session
		`{"ts":"2024-05-01T10:30:00Z","user":"b"}`, // watermark 10:20: a's session (to 10:13) closes
		`{"ts":"2024-05-01T10:50:00Z","user":"b"}`, // closes b's first session
	)
	want := "win:10:00-10:13:a:3 ack:0 ack:1 ack:2 win:10:30-10:35:b:1 ack:3 win:10:50-10:55:b:1 ack:4"
	if got := strings.Join(ev, " "); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
}
