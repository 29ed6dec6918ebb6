package window

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// A case feeds scripted batches (times t in epoch ms) through window.apply
// and checks everything the stage emitted on its main output, in order —
// windows and watermarks ("wm <time>") — and the rows of its late port.
type wcase struct {
	name   string
	config string
	feed   []item
	want   string
	late   string
}

// win renders one expected output row; times are seconds.
func win(start, end int, rest string) string {
	return fmt.Sprintf(`{"window_start":"%s","window_end":"%s",%s}`, ts(start), ts(end), rest)
}

func ts(sec int) string {
	return fmt.Sprintf("1970-01-01T00:%02d:%02dZ", sec/60, sec%60)
}

func wmLine(sec int) string { return "wm " + ts(sec) }

const aggs = `aggregations = [ { operation = "count", output_column = "n" }, { column = "v", operation = "sum", output_column = "s" } ]`

var cases = []wcase{
	{
		name:   "in order",
		config: `size = "10s"` + "\ntime_column = \"t\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":1000,"k":"a","v":1}
{"t":2000,"k":"b","v":2}
{"t":9000,"k":"a","v":3}`),
			rows(`{"t":11000,"k":"a","v":4}`),
			rows(`{"t":25000,"k":"a","v":5}`),
		},
		want: lines(
			wmLine(9),
			win(0, 10, `"k":"a","n":2,"s":4`),
			win(0, 10, `"k":"b","n":1,"s":2`),
			wmLine(11),
			win(10, 20, `"k":"a","n":1,"s":4`),
			wmLine(25),
			win(20, 30, `"k":"a","n":1,"s":5`),
		),
	},
	{
		name:   "out of order within the delay",
		config: "size = \"10s\"\ntime_column = \"t\"\nwatermark_delay = \"5s\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":1000,"k":"a","v":1}
{"t":12000,"k":"a","v":2}
{"t":8000,"k":"a","v":3}`),
			rows(`{"t":16000,"k":"a","v":4}`),
		},
		want: lines(
			wmLine(7),
			win(0, 10, `"k":"a","n":2,"s":4`),
			wmLine(11),
			win(10, 20, `"k":"a","n":2,"s":6`),
		),
	},
	{
		name:   "late within and beyond the allowed lateness (final)",
		config: "size = \"10s\"\ntime_column = \"t\"\nallowed_lateness = \"5s\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":1000,"k":"a","v":1}
{"t":12000,"k":"a","v":2}`),
			rows(`{"t":3000,"k":"a","v":3}`),
			rows(`{"t":16000,"k":"a","v":4}`),
			rows(`{"t":4000,"k":"a","v":5}`),
		},
		want: lines(
			wmLine(7),
			win(0, 10, `"k":"a","n":2,"s":4`),
			wmLine(11),
			win(10, 20, `"k":"a","n":2,"s":6`),
		),
		late: `{"t":4000,"k":"a","v":5}`,
	},
	{
		name:   "emit update re-emits a window a late row updates",
		config: "size = \"10s\"\ntime_column = \"t\"\nallowed_lateness = \"5s\"\nemit = \"update\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":1000,"k":"a","v":1}
{"t":12000,"k":"a","v":2}`),
			rows(`{"t":3000,"k":"a","v":3}`),
			rows(`{"t":16000,"k":"a","v":4}`),
			rows(`{"t":4000,"k":"a","v":5}`),
		},
		want: lines(
			win(0, 10, `"k":"a","n":1,"s":1`),
			wmLine(7),
			win(0, 10, `"k":"a","n":2,"s":4`),
			wmLine(11),
			win(10, 20, `"k":"a","n":2,"s":6`),
		),
		late: `{"t":4000,"k":"a","v":5}`,
	},
	{
		name:   "a row bridging two sessions merges them",
		config: "type = \"session\"\ngap = \"10s\"\ntime_column = \"t\"\nwatermark_delay = \"10s\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":0,"k":"a","v":1}
{"t":15000,"k":"a","v":2}
{"t":1000,"k":"b","v":10}`),
			rows(`{"t":7000,"k":"a","v":4}`),
		},
		want: lines(
			wmLine(5),
			win(1, 11, `"k":"b","n":1,"s":10`),
			win(0, 25, `"k":"a","n":3,"s":7`),
		),
	},
	{
		name:   "sessions close as the watermark passes; a completed session takes no more rows",
		config: "type = \"session\"\ngap = \"10s\"\ntime_column = \"t\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":0,"k":"a","v":1}
{"t":5000,"k":"a","v":2}
{"t":40000,"k":"a","v":3}
{"t":8000,"k":"a","v":4}
{"t":33000,"k":"a","v":5}`),
		},
		want: lines(
			win(0, 15, `"k":"a","n":2,"s":3`),
			wmLine(40),
			win(33, 50, `"k":"a","n":2,"s":8`),
		),
		late: `{"t":8000,"k":"a","v":4}`,
	},
	{
		name:   "sliding windows: each row in size/slide windows",
		config: "type = \"sliding\"\nsize = \"10s\"\nslide = \"5s\"\ntime_column = \"t\"\n" + aggs,
		feed: []item{
			rows(`{"t":7000,"v":1}
{"t":12000,"v":2}`),
		},
		want: lines(
			win(0, 10, `"n":1,"s":1`),
			wmLine(12),
			win(5, 15, `"n":2,"s":3`),
			win(10, 20, `"n":1,"s":2`),
		),
	},
	{
		name:   "count windows per key",
		config: "type = \"count\"\nsize = 2\ntime_column = \"t\"\ngroup_by = \"k\"\n" + aggs,
		feed: []item{
			rows(`{"t":1000,"k":"a","v":1}
{"t":2000,"k":"b","v":2}
{"t":3000,"k":"a","v":3}
{"t":4000,"k":"a","v":4}`),
		},
		want: lines(
			win(1, 3, `"k":"a","n":2,"s":4`),
			win(4, 4, `"k":"a","n":1,"s":4`),
			win(2, 2, `"k":"b","n":1,"s":2`),
		),
	},
	{
		name:   "in-band watermarks from upstream close windows",
		config: "size = \"10s\"\ntime_column = \"t\"\nwatermark_delay = \"1m\"\n" + aggs,
		feed: []item{
			rows(`{"t":1000,"v":1}`),
			wm(10000),
			rows(`{"t":12000,"v":2}`),
		},
		want: lines(
			"wm 1969-12-31T23:59:01Z", // 1s - 1m
			win(0, 10, `"n":1,"s":1`),
			wmLine(10),
			win(10, 20, `"n":1,"s":2`),
		),
	},
	{
		name:   "rows mode (two-stage form) with a late row",
		config: "size = \"10s\"\ntime_column = \"t\"",
		feed: []item{
			rows(`{"t":1000,"v":1}
{"t":3000,"v":2}
{"t":10000,"v":3}
{"t":2000,"v":4}`),
		},
		want: lines(
			`{"t":1000,"v":1,"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z"}`,
			`{"t":3000,"v":2,"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z"}`,
			wmLine(10),
			`{"t":10000,"v":3,"window_start":"1970-01-01T00:00:10Z","window_end":"1970-01-01T00:00:20Z"}`,
		),
		late: `{"t":2000,"v":4}`,
	},
}

func lines(ls ...string) string { return strings.Join(ls, "\n") }

func TestWindowCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			w := newWorld(mem)
			close(w.feed("in", c.feed...))
			p := start(t, mem, clock.NewMock(), windowPipeline("window.apply", c.config))
			p.wait(t)
			if got := strings.Join(w.lines("out"), "\n"); got != c.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, c.want)
			}
			if got := strings.Join(w.lines("late"), "\n"); got != c.late {
				t.Errorf("late port:\n%s\nwant:\n%s", got, c.late)
			}
			rep := p.r.Report()
			for _, s := range rep {
				if s.ID == "w" && s.LateRows != int64(len(w.lines("late"))) {
					t.Errorf("late rows metric %d, want %d", s.LateRows, len(w.lines("late")))
				}
			}
		})
	}
}
