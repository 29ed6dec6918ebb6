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
	"go.uber.org/goleak"

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
poll_interval = "2ms"
linger = "2ms"
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
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
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

// Appends, a partial line completed later, rotation by rename with lines
// written to the old file just before it, a file created after the
// rotation, and truncation: every line arrives once, in order.
func TestFollowAppendsRotationAndTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendTo(t, path, "a1\na2\n")
	c, stop := watch(t, path, "")
	waitFor(t, c, 2)
	appendTo(t, path, "a3\na4-par")
	waitFor(t, c, 3)
	if got := c.snapshot(); len(got) != 3 {
		t.Fatalf("a partial line was emitted: %q", got)
	}
	appendTo(t, path, "tial\n")
	waitFor(t, c, 4)

	// Rotate: the old file gets a last line, is renamed away, and a new
	// file takes its place.
	appendTo(t, path, "a5-last\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "b1\n")
	waitFor(t, c, 6)
	appendTo(t, path, "b2\n")
	waitFor(t, c, 7)

	// Truncate in place (copytruncate rotation), then write anew.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	// Wait until the truncation is seen: the file is polled every 2ms; a
	// rewrite longer than what was read before would otherwise be taken
	// for an append (as tail -F does).
	time.Sleep(50 * time.Millisecond)
	appendTo(t, path, "c1\n")
	waitFor(t, c, 8)

	got := stop()
	want := []string{"a1", "a2", "a3", "a4-partial", "a5-last", "b1", "b2", "c1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lines %q\nwant  %q", got, want)
	}
}

// from = "end" skips what the file held when the stream started; a file
// that does not exist yet is waited for and read from its start.
func TestFromEndAndLateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendTo(t, path, "old1\nold2\n")
	c, stop := watch(t, path, `from = "end"`)
	time.Sleep(20 * time.Millisecond) // let it open the file at its end
	appendTo(t, path, "new1\n")
	waitFor(t, c, 1)
	got := stop()
	if strings.Join(got, ",") != "new1" {
		t.Errorf("from end: %q", got)
	}

	late := filepath.Join(dir, "late.log")
	c, stop = watch(t, late, `from = "end"`)
	time.Sleep(20 * time.Millisecond) // let it find no file
	appendTo(t, late, "x1\nx2\n")
	waitFor(t, c, 2)
	if got := stop(); strings.Join(got, ",") != "x1,x2" {
		t.Errorf("late file: %q", got)
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
