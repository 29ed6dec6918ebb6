package stdio

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// lingerClock is a mock clock that reports each linger timer it creates:
// the micro-batcher creates one when the first row of a batch arrives, so
// a test knows that row is held.
type lingerClock struct {
	*clock.Mock
	linger time.Duration
	held   chan struct{}
}

func (c *lingerClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	if d == c.linger {
		c.held <- struct{}{}
	}
	return t
}

// batchCollector is a sink keeping the "line" column of each batch.
type batchCollector struct {
	mu      sync.Mutex
	batches [][]string
}

func (c *batchCollector) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	col := b.Column(0).(*array.String)
	rows := make([]string, col.Len())
	for i := range rows {
		rows[i] = col.Value(i)
	}
	c.mu.Lock()
	c.batches = append(c.batches, rows)
	c.mu.Unlock()
	return nil
}
func (c *batchCollector) Close(context.Context, *flow.Stage) error { return nil }
func (c *batchCollector) Abort()                                   {}

func (c *batchCollector) snapshot() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.batches...)
}

// waitBatches waits (10 s at most; it takes microseconds) until n batches
// arrived. It waits for a condition; it asserts nothing about time.
func (c *batchCollector) waitBatches(t *testing.T, n int) [][]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.snapshot()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d batches, have %q", n, c.snapshot())
		}
		time.Sleep(time.Millisecond)
	}
	return c.snapshot()
}

// A live stdin on the mock clock: a row that arrives while the input then
// stays silent (the reader blocked on the pipe) is handed on exactly
// linger after it arrived; a burst is cut at batch_size at once; a drain
// hands on what is held and ends the run while stdin is still open.
func TestStdinStreamLingerAndDrainOnTheMockClock(t *testing.T) {
	const linger = 100 * time.Millisecond
	clk := &lingerClock{Mock: clock.NewMock(), linger: linger, held: make(chan struct{}, 16)}
	pr, pw := io.Pipe()
	defer pw.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	c := &batchCollector{}
	reg := flow.NewRegistry()
	RegisterIO(reg, Streams{Stdin: pr, Stdout: io.Discard})
	reg.Register(&flow.Spec{Name: "test.collect", Kind: flow.KindSink, Summary: "collects",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return c, nil }})
	f, err := flow.Parse("live.toml", []byte(`[pipeline]
name = "live"
[[stages]]
id = "in"
function = "stdin.stream"
[stages.config]
format = "raw"
batch_size = 3
linger = "100ms"
[[stages]]
id = "out"
function = "test.collect"
inputs = ["in"]
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()

	io.WriteString(pw, "a\n")
	<-clk.held
	clk.Add(linger - time.Millisecond)
	if got := c.snapshot(); len(got) != 0 {
		t.Fatalf("handed on before linger: %q", got)
	}
	clk.Add(time.Millisecond)
	c.waitBatches(t, 1)

	io.WriteString(pw, "b\nc\nd\n") // a burst: cut by size, the clock stands still
	<-clk.held
	c.waitBatches(t, 2)

	io.WriteString(pw, "e\n")
	<-clk.held
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	got := c.snapshot()
	if len(got) != 3 || strings.Join(got[0], ",") != "a" || strings.Join(got[1], ",") != "b,c,d" || strings.Join(got[2], ",") != "e" {
		t.Errorf("batches %q, want [[a] [b c d] [e]]", got)
	}
}

// A line longer than the bound fails the stage with its line number
// instead of growing without limit.
func TestStdinStreamLineTooLong(t *testing.T) {
	defer func(n int) { maxLineBytes = n }(maxLineBytes)
	maxLineBytes = 8
	in := "ok\n" + strings.Repeat("x", 100<<10) + "\n"
	_, err := flow.RunIsolated(context.Background(), StreamSpec(strings.NewReader(in)), map[string]any{"format": "raw"},
		flow.BuildEnv{}, flow.StrategyContinue)
	if err == nil || !strings.Contains(err.Error(), "reading stdin: line 2 is longer than 8 bytes") {
		t.Fatalf("error %v", err)
	}
}

// stdout.stream as JSON lines: timestamps in RFC 3339, each batch written
// through before the next arrives.
func TestStdoutStreamJSONLines(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var out bytes.Buffer
	spec := StreamWriteSpec(&out)
	cfg, errs := flow.CheckConfig(spec, map[string]any{"format": "jsonl"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	op, err := spec.New(cfg, flow.BuildEnv{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	sink := op.(flow.Sink)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil)
	want := ""
	for i, row := range []string{
		`{"id":1,"ts":"2024-05-01T10:00:00Z"}`,
		`{"id":2,"ts":"2024-05-01T10:00:00.250Z"}`,
	} {
		b, err := batch.FromNDJSON(mem, row, schema)
		if err != nil {
			t.Fatal(err)
		}
		err = sink.Write(context.Background(), nil, b)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		want += row + "\n"
		if out.String() != want {
			t.Errorf("after batch %d:\n%s\nwant:\n%s", i+1, out.String(), want)
		}
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// Every format of stdout.stream hands each batch on before the next
// arrives; json and table end their document at Close.
func TestStdoutStreamFormatsPerBatch(t *testing.T) {
	rows := []string{`{"id":1,"name":"ana"}`, `{"id":200,"name":"bo"}`}
	for _, tc := range []struct {
		format       string
		after1, end2 string // output after the first batch; after the second
		final        string // after Close
	}{
		{"jsonl", rows[0] + "\n", rows[0] + "\n" + rows[1] + "\n", rows[0] + "\n" + rows[1] + "\n"},
		{"csv", "id,name\n1,ana\n", "id,name\n1,ana\n200,bo\n", "id,name\n1,ana\n200,bo\n"},
		{"json", "[\n" + rows[0], "[\n" + rows[0] + ",\n" + rows[1], "[\n" + rows[0] + ",\n" + rows[1] + "\n]\n"},
		{"table", "id  name\n--  ----\n 1  ana\n", "id  name\n--  ----\n 1  ana\n200  bo\n", "id  name\n--  ----\n 1  ana\n200  bo\n(2 rows)\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			var out bytes.Buffer
			spec := StreamWriteSpec(&out)
			cfg, errs := flow.CheckConfig(spec, map[string]any{"format": tc.format})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			op, err := spec.New(cfg, flow.BuildEnv{Alloc: mem})
			if err != nil {
				t.Fatal(err)
			}
			sink := op.(flow.Sink)
			schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
			for i, want := range []string{tc.after1, tc.end2} {
				b, err := batch.FromNDJSON(mem, rows[i], schema)
				if err != nil {
					t.Fatal(err)
				}
				err = sink.Write(context.Background(), nil, b)
				b.Release()
				if err != nil {
					t.Fatal(err)
				}
				if out.String() != want {
					t.Errorf("after batch %d:\n%q\nwant\n%q", i+1, out.String(), want)
				}
			}
			if err := sink.Close(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.final {
				t.Errorf("at the end:\n%q\nwant\n%q", out.String(), tc.final)
			}
		})
	}
}
