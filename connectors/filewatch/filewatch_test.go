package filewatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExamples(t *testing.T) { spectest.RunAll(t, Spec()) }

// collector is a sink keeping the "line" column of every row it gets.
type collector struct {
	mu    sync.Mutex
	lines []string
}

func (c *collector) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	col := b.Column(0).(*array.String)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range col.Len() {
		c.lines = append(c.lines, col.Value(i))
	}
	return nil
}
func (c *collector) Close(context.Context, *flow.Stage) error { return nil }
func (c *collector) Abort()                                   {}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// watch starts file.watch (raw lines) on path with extra config, into a
// collector; stop drains the pipeline and returns what was collected.
func watch(t *testing.T, path, extra string) (*collector, func() []string) {
	t.Helper()
	return watchOn(t, nil, path, "poll_interval = \"2ms\"\nlinger = \"2ms\"\nbatch_size = 1000\n"+extra)
}

// watchOn is watch on clk (nil: the real clock) with only extra config
// (batch_size = 1 unless extra sets it).
func watchOn(t *testing.T, clk clock.Clock, path, extra string) (*collector, func() []string) {
	t.Helper()
	if !strings.Contains(extra, "batch_size") {
		extra += "\nbatch_size = 1"
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	c := &collector{}
	reg := flow.NewRegistry()
	Register(reg)
	reg.Register(&flow.Spec{Name: "test.collect", Kind: flow.KindSink, Summary: "collects",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return c, nil }})
	src := fmt.Sprintf(`[pipeline]
name = "watch"
[[stages]]
id = "w"
function = "file.watch"
[stages.config]
path = %q
format = "raw"
%s
[[stages]]
id = "c"
function = "test.collect"
inputs = ["w"]
`, path, extra)
	f, err := flow.Parse("watch.toml", []byte(src))
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
	return c, func() []string {
		r.Drain()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
		return c.snapshot()
	}
}

// waitFor waits (up to 10 s; the condition is met within milliseconds)
// until the collector holds n lines.
func waitFor(t *testing.T, c *collector, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.snapshot()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d lines, have %q", n, c.snapshot())
		}
		time.Sleep(time.Millisecond)
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// pollClock is a mock clock that reports each wait for the next poll (a
// timer of the poll interval), so a test knows the tailer has read
// everything there was and is waiting; other timers (linger) pass.
type pollClock struct {
	*clock.Mock
	interval time.Duration
	polls    chan struct{}
}

func (c *pollClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	if d == c.interval {
		c.polls <- struct{}{}
	}
	return t
}

// The stage on the mock clock: each poll_interval of the pipeline clock,
// and only then, the file is looked at again; appends, a partial line,
// rotation and truncation each come through once, in order.
func TestWatchPollsOnThePipelineClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, path, "a1\na2\n")
	clk := &pollClock{Mock: clock.NewMock(), interval: time.Second, polls: make(chan struct{}, 16)}
	c, stop := watchOn(t, clk, path, `poll_interval = "1s"`)
	next := func() { // one more poll interval: the tailer reads and waits again
		clk.Add(time.Second)
		<-clk.polls
	}
	<-clk.polls
	waitFor(t, c, 2)
	appendTo(t, path, "a3\na4-par")
	next()
	waitFor(t, c, 3)
	appendTo(t, path, "tial\n")
	next()
	waitFor(t, c, 4)
	appendTo(t, path, "a5\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "b1\nb2\nb3\n")
	next()
	waitFor(t, c, 8)
	if err := os.WriteFile(path, []byte("c1\n"), 0o644); err != nil { // truncated and rewritten
		t.Fatal(err)
	}
	next()
	waitFor(t, c, 9)
	got := stop()
	want := "a1,a2,a3,a4-partial,a5,b1,b2,b3,c1"
	if strings.Join(got, ",") != want {
		t.Errorf("lines %q\nwant  %s", got, want)
	}
}

// from = "end" skips what the file held when the stream started; a file
// that does not exist yet is waited for and read from its start.
func TestWatchFromEnd(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, before, after, want string
	}{
		{"existing", "old1\nold2\n", "new1\n", "new1"},
		{"late", "", "x1\nx2\n", "x1,x2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".log")
			if tc.before != "" {
				appendTo(t, path, tc.before)
			}
			clk := &pollClock{Mock: clock.NewMock(), interval: time.Second, polls: make(chan struct{}, 16)}
			c, stop := watchOn(t, clk, path, "poll_interval = \"1s\"\nfrom = \"end\"")
			<-clk.polls // the file was opened at its end, or found missing
			appendTo(t, path, tc.after)
			clk.Add(time.Second)
			<-clk.polls
			waitFor(t, c, strings.Count(tc.want, ",")+1)
			if got := stop(); strings.Join(got, ",") != tc.want {
				t.Errorf("lines %q, want %s", got, tc.want)
			}
		})
	}
}

// Bad lines of a jsonl file are rejected with their location; the rest of
// the file is read.
func TestWatchRejectsBadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.jsonl")
	appendTo(t, path, "{\"id\":1}\nnot json\n{\"id\":\"two\"}\n{\"id\":3}\n")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := flow.RunIsolated(context.Background(), Spec(),
		map[string]any{"path": path, "format": "jsonl", "follow": false, "batch_size": int64(1)},
		flow.BuildEnv{Alloc: mem}, flow.StrategyContinue)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if out := batch.ToNDJSON(res.Output...); out != "{\"id\":1}\n{\"id\":3}\n" {
		t.Errorf("rows %q", out)
	}
	var rej []string
	for _, b := range res.Ports[flow.PortErrors] {
		for _, r := range batch.Rows(b) {
			rej = append(rej, fmt.Sprint(r["source"]))
		}
	}
	if strings.Join(rej, ",") != path+":2,"+path+":3" {
		t.Errorf("rejections at %q", rej)
	}
}

// A line longer than the bound fails the stage with the file and offset.
func TestWatchLineTooLong(t *testing.T) {
	defer func(n int) { maxLineBytes = n }(maxLineBytes)
	maxLineBytes = 8
	path := filepath.Join(t.TempDir(), "bin.dat")
	appendTo(t, path, "ok\n0123456789abcdef")
	_, err := flow.RunIsolated(context.Background(), Spec(), map[string]any{"path": path, "format": "raw", "follow": false},
		flow.BuildEnv{}, flow.StrategyStop)
	if err == nil || !strings.Contains(err.Error(), "bin.dat: the line at byte 3 is longer than 8 bytes") {
		t.Fatalf("error %v", err)
	}
}

func TestUnbounded(t *testing.T) {
	s := Spec()
	if !s.Unbounded(flow.Config{}) || !s.Unbounded(flow.Config{"follow": true}) || s.Unbounded(flow.Config{"follow": false}) {
		t.Error("file.watch is unbounded unless follow = false")
	}
}

// A writer appending 20000 lines while the file is rotated every 5000:
// every line reaches the pipeline exactly once, in order. (As with tail -F,
// a file must have been opened before it is rotated away: the writer
// waits until the first line of each file arrived, then writes the rest of
// it at full speed and rotates, so the tail of each file is read after
// the rename.)
func TestRotationUnderLoadLosesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	c, stop := watch(t, path, "")
	const total, every = 20000, 5000
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range total {
		if i > 0 && i%every == 0 {
			f.Close()
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i/every)); err != nil {
				t.Fatal(err)
			}
			if f, err = os.Create(path); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(f, "line-%d\n", i)
		if i%every == 0 {
			waitFor(t, c, i+1)
		}
	}
	f.Close()
	waitFor(t, c, total)
	got := stop()
	if len(got) != total {
		t.Fatalf("%d lines, want %d", len(got), total)
	}
	for i, l := range got {
		if l != fmt.Sprintf("line-%d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

// CSV with comment lines and another quote character.
func TestWatchCSVOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.csv")
	appendTo(t, path, "# sensor dump\nid;v\n1;'a;b'\n# gap\n2;c\n")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := flow.RunIsolated(context.Background(), Spec(),
		map[string]any{"path": path, "format": "csv", "follow": false, "delimiter": ";", "quote": "'", "comment": "#"},
		flow.BuildEnv{Alloc: mem}, flow.StrategyStop)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if out := batch.ToNDJSON(res.Output...); out != `{"id":1,"v":"a;b"}`+"\n"+`{"id":2,"v":"c"}`+"\n" {
		t.Errorf("rows %q", out)
	}
}

// poll_interval_ms, the original form, sets the interval, and wins over
// poll_interval (which always has a value: its default).
func TestPollIntervalForms(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]any
		want time.Duration
	}{
		{map[string]any{}, 250 * time.Millisecond},
		{map[string]any{"poll_interval": "2s"}, 2 * time.Second},
		{map[string]any{"poll_interval_ms": int64(1000)}, time.Second},
		{map[string]any{"poll_interval_ms": int64(1500), "poll_interval": "1s"}, 1500 * time.Millisecond},
	} {
		tc.cfg["path"] = "x.log"
		cfg, errs := flow.CheckConfig(Spec(), tc.cfg)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		op, err := Spec().New(cfg, flow.BuildEnv{})
		if err != nil {
			t.Fatal(err)
		}
		if got := op.(*watcher).poll; got != tc.want {
			t.Errorf("%v: interval %v, want %v", tc.cfg, got, tc.want)
		}
	}
}
