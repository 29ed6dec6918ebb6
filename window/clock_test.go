package window

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// Two inputs, one silent: once it has been silent for idle_timeout (on the
// mock clock) it stops holding the watermark back, and the window closes
// without any new row.
func TestIdleInputStopsHoldingTheWatermark(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := newWorld(mem)
	a, b := w.feed("a"), w.feed("b")
	mock := clock.NewMock()
	p := start(t, mem, mock, `
[[stages]]
id = "a"
function = "test.src"
[stages.config]
feed = "a"
[[stages]]
id = "b"
function = "test.src"
[stages.config]
feed = "b"
[[stages]]
id = "w"
function = "window.apply"
inputs = ["a", "b"]
[stages.config]
size = "10s"
time_column = "t"
idle_timeout = "10s"
aggregations = [ { operation = "count", output_column = "n" } ]
[[stages]]
id = "out"
function = "test.sink"
inputs = ["w"]
`)
	a <- rows(`{"t":1000}`)
	w.waitRows("w", 1)
	mock.Add(6 * time.Second)
	a <- rows(`{"t":12000}`)
	w.waitRows("w", 2)
	if got := w.lines("out"); len(got) != 0 {
		t.Fatalf("b is silent but not idle yet: nothing may be emitted, got %v", got)
	}
	mock.Add(4 * time.Second) // b silent for 10s: idle; a spoke 4s ago
	w.waitLines("out", 2)
	b <- rows(`{"t":11000}`) // b speaks again: it holds the watermark again (which never goes back)
	w.waitRows("w", 3)
	close(a)
	close(b)
	p.wait(t)
	want := lines(win(0, 10, `"n":1`), wmLine(12), win(10, 20, `"n":2`))
	if got := strings.Join(w.lines("out"), "\n"); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// Without time_column, windows run on processing time: they fire when the
// mock clock reaches their end, with no row arriving.
func TestProcessingTimeWindowsFireOnTheClock(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := newWorld(mem)
	in := w.feed("in")
	mock := clock.NewMock()
	p := start(t, mem, mock, windowPipeline("window.apply", `size = "1m"
group_by = "k"
aggregations = [ { operation = "count", output_column = "n" } ]`))
	in <- rows(`{"k":"a"}
{"k":"b"}`)
	w.waitRows("w", 2)
	mock.Add(30 * time.Second)
	in <- rows(`{"k":"a"}`)
	w.waitRows("w", 3)
	mock.Add(30 * time.Second) // 60s: the first window fires
	w.waitLines("out", 5)
	in <- rows(`{"k":"b"}`)
	w.waitRows("w", 4)
	close(in)
	p.wait(t)
	want := lines(wmLine(0), wmLine(30), win(0, 60, `"k":"a","n":2`), win(0, 60, `"k":"b","n":1`), wmLine(60), win(60, 120, `"k":"b","n":1`))
	if got := strings.Join(w.lines("out"), "\n"); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// The original pair: `type = "tumbling", size = 3` without a time column
// is a count window of 3 rows; aggregate.stream sums each window.
func TestOriginalCountWindowsWithAggregateStream(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := newWorld(mem)
	close(w.feed("in", rows(`{"v":1}
{"v":2}
{"v":3}
{"v":4}`), rows(`{"v":5}
{"v":6}
{"v":7}`)))
	p := start(t, mem, clock.NewMock(), `
[[stages]]
id = "src"
function = "test.src"
[stages.config]
feed = "in"
[[stages]]
id = "w"
function = "window.apply"
inputs = ["src"]
[stages.config]
type = "tumbling"
size = 3
[[stages]]
id = "agg"
function = "aggregate.stream"
inputs = ["w"]
[stages.config]
operation = "sum"
column = "v"
[[stages]]
id = "out"
function = "test.sink"
inputs = ["agg"]
`)
	p.wait(t)
	want := lines(win(0, 0, `"v_sum":6`), win(0, 0, `"v_sum":15`), win(0, 0, `"v_sum":7`))
	if got := strings.Join(w.lines("out"), "\n"); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// A drain (conveyor stream's SIGINT) ends the inputs while windows are
// open: on_shutdown decides whether they are emitted.
func TestOnShutdown(t *testing.T) {
	for _, mode := range []string{"emit", "drop"} {
		t.Run(mode, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			w := newWorld(mem)
			in := w.feed("in")
			p := start(t, mem, clock.NewMock(), windowPipeline("window.apply", `size = "10s"
time_column = "t"
on_shutdown = "`+mode+`"
aggregations = [ { operation = "count", output_column = "n" } ]`))
			in <- rows(`{"t":1000}
{"t":2000}`)
			w.waitRows("w", 2)
			p.r.Drain()
			p.wait(t)
			want := ""
			if mode == "emit" {
				want = lines(wmLine(2), win(0, 10, `"n":2`))
			} else {
				want = wmLine(2)
			}
			if got := strings.Join(w.lines("out"), "\n"); got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
