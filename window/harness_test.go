package window

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// item is one step of a test source: rows (NDJSON, one batch) or a
// watermark (Wm, epoch ms, when Rows is "").
type item struct {
	Rows string
	Wm   int64
}

func rows(s string) item { return item{Rows: s} }
func wm(ms int64) item   { return item{Wm: ms} }

// world is the shared state of one pipeline test: the feeds of the test
// sources and the logs of the test sinks.
type world struct {
	mu    sync.Mutex
	cond  *sync.Cond
	feeds map[string]chan item
	logs  map[string][]string
	rows  map[string]int64 // rows processed by window stages (hook)
	mem   memory.Allocator
	// schema, when set, is the schema of every batch the sources emit.
	schema *arrow.Schema
}

var cur *world

func newWorld(mem memory.Allocator) *world {
	w := &world{feeds: map[string]chan item{}, logs: map[string][]string{}, rows: map[string]int64{}, mem: mem}
	w.cond = sync.NewCond(&w.mu)
	cur = w
	testHook = func(stage string, e *engine) {
		w.mu.Lock()
		w.rows[stage] = e.rows
		w.cond.Broadcast()
		w.mu.Unlock()
	}
	return w
}

func (w *world) feed(name string, items ...item) chan item {
	ch := make(chan item, len(items)+64)
	for _, it := range items {
		ch <- it
	}
	w.feeds[name] = ch
	return ch
}

func (w *world) log(stage, line string) {
	w.mu.Lock()
	w.logs[stage] = append(w.logs[stage], line)
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *world) lines(stage string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.logs[stage]...)
}

// waitRows waits until window stage id processed n rows.
func (w *world) waitRows(id string, n int64) {
	w.mu.Lock()
	for w.rows[id] < n {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// waitLines waits until sink id logged n lines.
func (w *world) waitLines(id string, n int) {
	w.mu.Lock()
	for len(w.logs[id]) < n {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// srcOp emits its feed; it ends when the feed is closed or on drain.
type srcOp struct{ name string }

func (s srcOp) Run(ctx context.Context, st *flow.Stage) error {
	ch := cur.feeds[s.name]
	for {
		select {
		case it, ok := <-ch:
			if !ok {
				return nil
			}
			if it.Rows == "" {
				if err := st.EmitWatermark(ctx, time.UnixMilli(it.Wm).UTC()); err != nil {
					return err
				}
				continue
			}
			b, err := batch.FromNDJSON(st.Alloc, it.Rows, cur.schema)
			if err != nil {
				return err
			}
			if err := st.Emit(ctx, b); err != nil {
				return err
			}
		case <-st.Draining():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sinkOp logs rows (NDJSON) and watermarks ("wm <time>").
type sinkOp struct{}

func (sinkOp) Run(ctx context.Context, st *flow.Stage) error {
	for {
		m, ok, err := st.Recv(ctx)
		if err != nil || !ok {
			return err
		}
		switch m.Kind {
		case flow.MsgData:
			for _, l := range strings.Split(strings.TrimSpace(batch.ToNDJSON(m.Batch)), "\n") {
				cur.log(st.ID, l)
			}
			m.Batch.Release()
		case flow.MsgWatermark:
			cur.log(st.ID, "wm "+m.Watermark.UTC().Format(time.RFC3339Nano))
		}
	}
}

func testRegistry() *flow.Registry {
	r := flow.NewRegistry()
	Register(r)
	r.Register(&flow.Spec{Name: "test.src", Kind: flow.KindSource, Summary: "scripted rows",
		Params: []flow.Param{{Name: "feed", Type: flow.TypeString, Required: true}},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return srcOp{name: cfg.Str("feed")}, nil
		}})
	r.Register(&flow.Spec{Name: "test.sink", Kind: flow.KindSink, Summary: "log",
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) { return sinkOp{}, nil }})
	return r
}

// pipeline is a running test pipeline.
type pipeline struct {
	r    *flow.Runner
	done chan error
}

func start(t *testing.T, mem memory.Allocator, clk clock.Clock, src string) *pipeline {
	t.Helper()
	f, err := flow.Parse("p.toml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	g, err := flow.Validate(f, testRegistry())
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, Clock: clk})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	p := &pipeline{r: r, done: make(chan error, 1)}
	go func() { p.done <- r.Run(context.Background()) }()
	return p
}

func (p *pipeline) wait(t *testing.T) {
	t.Helper()
	if err := <-p.done; err != nil {
		t.Fatal(err)
	}
}

// windowPipeline is feed "in" → window stage "w" (config body) → sink
// "out", with the late port to sink "late".
func windowPipeline(function, config string) string {
	return fmt.Sprintf(`[[stages]]
id = "src"
function = "test.src"
[stages.config]
feed = "in"

[[stages]]
id = "w"
function = %q
inputs = ["src"]
[stages.config]
%s

[[stages]]
id = "out"
function = "test.sink"
inputs = ["w"]

[[stages]]
id = "late"
function = "test.sink"
inputs = ["w.late"]
`, function, config)
}

func schemaNames(s *arrow.Schema) []string { return names(s) }
