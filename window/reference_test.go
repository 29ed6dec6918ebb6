package window

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// refRow is one input row of the reference tests.
type refRow struct {
	t   int64 // ms
	k   *string
	v   *int64
	raw string
}

// refAcc is a window's group in the reference.
type refAcc struct {
	start, end int64 // ms
	k          *string
	n          int64
	s, mn, mx  int64
	has        bool
}

func (a *refAcc) add(r refRow) {
	a.n++
	if r.v == nil {
		return
	}
	v := *r.v
	if !a.has {
		a.s, a.mn, a.mx, a.has = v, v, v, true
		return
	}
	a.s += v
	a.mn, a.mx = min(a.mn, v), max(a.mx, v)
}

func (a *refAcc) merge(b *refAcc) {
	a.n += b.n
	if !b.has {
		return
	}
	if !a.has {
		a.s, a.mn, a.mx, a.has = b.s, b.mn, b.mx, true
		return
	}
	a.s += b.s
	a.mn, a.mx = min(a.mn, b.mn), max(a.mx, b.mx)
}

func (a *refAcc) json() map[string]any {
	m := map[string]any{"window_start": msTime(a.start), "window_end": msTime(a.end), "k": nil, "n": float64(a.n), "s": nil, "mn": nil, "mx": nil}
	if a.k != nil {
		m["k"] = *a.k
	}
	if a.has {
		m["s"], m["mn"], m["mx"] = float64(a.s), float64(a.mn), float64(a.mx)
	}
	return m
}

func msTime(ms int64) string {
	return fmt.Sprint(arrow.Timestamp(ms * 1000).ToTime(arrow.Microsecond).UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
}

func keyOf(k *string) string {
	if k == nil {
		return "\x00null"
	}
	return *k
}

func randomRows(rng *rand.Rand, n int) []refRow {
	keys := []string{"a", "b", "ç", "日本"}
	out := make([]refRow, n)
	for i := range out {
		r := refRow{t: int64(i)*700 + rng.Int64N(6000) - 3000}
		if rng.IntN(10) > 0 {
			r.k = &keys[rng.IntN(len(keys))]
		}
		if rng.IntN(10) > 0 {
			v := rng.Int64N(26) - 5
			r.v = &v
		}
		k, v := "null", "null"
		if r.k != nil {
			b, _ := json.Marshal(*r.k)
			k = string(b)
		}
		if r.v != nil {
			v = fmt.Sprint(*r.v)
		}
		r.raw = fmt.Sprintf(`{"t":%d,"k":%s,"v":%s}`, r.t, k, v)
		out[i] = r
	}
	return out
}

type refCfg struct {
	kind             kind
	size, slide, gap int64 // ms
	delay, lateness  int64
}

// reference computes the windows (emit = final) row by row, and the late
// rows.
func reference(c refCfg, rows []refRow) (out []map[string]any, late []string) {
	wm := int64(none)
	maxT := int64(none)
	type win struct {
		start, end int64
		groups     map[string]*refAcc
		order      []string
	}
	wins := map[[2]int64]*win{}
	keyOrder := map[string]int{}
	sessions := map[string][]*refAcc{}
	var closed []*refAcc
	for _, r := range rows {
		if _, ok := keyOrder[keyOf(r.k)]; !ok {
			keyOrder[keyOf(r.k)] = len(keyOrder)
		}
		if r.t > maxT {
			maxT = r.t
			wm = max(wm, maxT-c.delay)
		}
		switch c.kind {
		case kTumbling, kSliding:
			size, slide := c.size, c.slide
			if c.kind == kTumbling {
				slide = size
			}
			took := false
			for start := r.t - floorMod(r.t, slide); start > r.t-size; start -= slide {
				end := start + size
				if end+c.lateness <= wm {
					continue
				}
				took = true
				w := wins[[2]int64{start, end}]
				if w == nil {
					w = &win{start: start, end: end, groups: map[string]*refAcc{}}
					wins[[2]int64{start, end}] = w
				}
				g := w.groups[keyOf(r.k)]
				if g == nil {
					g = &refAcc{start: start, end: end, k: r.k}
					w.groups[keyOf(r.k)] = g
					w.order = append(w.order, keyOf(r.k))
				}
				g.add(r)
			}
			if !took {
				late = append(late, r.raw)
			}
		case kSession:
			k := keyOf(r.k)
			var keep, ov []*refAcc
			for _, s := range sessions[k] {
				if s.end+c.lateness <= wm {
					closed = append(closed, s)
					continue
				}
				keep = append(keep, s)
				if s.start < r.t+c.gap && r.t < s.end {
					ov = append(ov, s)
				}
			}
			if len(ov) == 0 {
				if r.t+c.gap+c.lateness <= wm {
					late = append(late, r.raw)
					sessions[k] = keep
					continue
				}
				s := &refAcc{start: r.t, end: r.t + c.gap, k: r.k}
				s.add(r)
				sessions[k] = append(keep, s)
				continue
			}
			dst := ov[0]
			dst.start, dst.end = min(dst.start, r.t), max(dst.end, r.t+c.gap)
			var rest []*refAcc
			for _, s := range keep {
				if slices.Contains(ov[1:], s) {
					dst.merge(s)
					dst.start, dst.end = min(dst.start, s.start), max(dst.end, s.end)
					continue
				}
				rest = append(rest, s)
			}
			dst.add(r)
			sessions[k] = rest
		}
	}
	type res struct {
		a   *refAcc
		ord int
	}
	var all []res
	for _, w := range wins {
		for i, k := range w.order {
			all = append(all, res{w.groups[k], i})
		}
	}
	for _, ss := range sessions {
		closed = append(closed, ss...)
	}
	for _, s := range closed {
		all = append(all, res{s, keyOrder[keyOf(s.k)]})
	}
	slices.SortFunc(all, func(a, b res) int {
		if a.a.end != b.a.end {
			return cmpInt(a.a.end, b.a.end)
		}
		if a.a.start != b.a.start {
			return cmpInt(a.a.start, b.a.start)
		}
		return a.ord - b.ord
	})
	for _, r := range all {
		out = append(out, r.a.json())
	}
	return out, late
}

func feedBatches(rng *rand.Rand, rows []refRow) []item {
	var items []item
	for i := 0; i < len(rows); {
		n := min(1+rng.IntN(40), len(rows)-i)
		var lines []string
		for _, r := range rows[i : i+n] {
			lines = append(lines, r.raw)
		}
		items = append(items, rows2(strings.Join(lines, "\n")))
		i += n
	}
	return items
}

func rows2(s string) item { return item{Rows: s} }

func runCollect(t *testing.T, mem memory.Allocator, items []item, src string) (out []string, late []string) {
	t.Helper()
	w := newWorld(mem)
	w.schema = arrow.NewSchema([]arrow.Field{
		{Name: "t", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	close(w.feed("in", items...))
	p := start(t, mem, clock.NewMock(), src)
	p.wait(t)
	for _, l := range w.lines("out") {
		if !strings.HasPrefix(l, "wm ") {
			out = append(out, l)
		}
	}
	return out, w.lines("late")
}

func parseLines(t *testing.T, ls []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range ls {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		out = append(out, m)
	}
	normTimes(out)
	return out
}

const refAggs = `aggregations = [
  { operation = "count", output_column = "n" },
  { column = "v", operation = "sum", output_column = "s" },
  { column = "v", operation = "min", output_column = "mn" },
  { column = "v", operation = "max", output_column = "mx" },
]`

// Random out-of-order input, cut into random batches: window.apply equals
// a row-by-row reference (windows, order, late rows) whatever the batch
// boundaries; the two-stage form window.apply → aggregate.stream equals
// the one-stage form.
func TestAgainstReference(t *testing.T) {
	cfgs := []struct {
		name string
		ref  refCfg
		toml string
	}{
		{"tumbling", refCfg{kind: kTumbling, size: 5000, delay: 2000, lateness: 1000},
			"type = \"tumbling\"\nsize = \"5s\"\nwatermark_delay = \"2s\"\nallowed_lateness = \"1s\""},
		{"sliding", refCfg{kind: kSliding, size: 6000, slide: 2000, delay: 1000, lateness: 500},
			"type = \"sliding\"\nsize = \"6s\"\nslide = \"2s\"\nwatermark_delay = \"1s\"\nallowed_lateness = \"500ms\""},
		{"sliding uneven", refCfg{kind: kSliding, size: 5000, slide: 2000, delay: 0, lateness: 0},
			"type = \"sliding\"\nsize = \"5s\"\nslide = \"2s\""},
		{"session", refCfg{kind: kSession, gap: 2000, delay: 2000, lateness: 1000},
			"type = \"session\"\ngap = \"2s\"\nwatermark_delay = \"2s\"\nallowed_lateness = \"1s\""},
		{"session no delay", refCfg{kind: kSession, gap: 1500},
			"type = \"session\"\ngap = \"1500ms\""},
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			for seed := range uint64(4) {
				rng := rand.New(rand.NewPCG(seed, 7))
				data := randomRows(rng, 200+rng.IntN(200))
				want, wantLate := reference(c.ref, data)
				one := c.toml + "\ntime_column = \"t\"\ngroup_by = \"k\"\n" + refAggs
				var first []string
				for rep := range 3 {
					got, late := runCollect(t, mem, feedBatches(rng, data), windowPipeline("window.apply", one))
					if g, w := parseLines(t, got), normalize(want); !reflect.DeepEqual(g, w) {
						for i := range min(len(g), len(w)) {
							if !reflect.DeepEqual(g[i], w[i]) {
								t.Logf("first difference at %d: got %v, want %v", i, g[i], w[i])
								break
							}
						}
						t.Fatalf("seed %d: output differs from the reference:\n%s\nwant:\n%s", seed, strings.Join(got, "\n"), dump(want))
					}
					if !slices.Equal(late, wantLate) {
						t.Fatalf("seed %d: late rows %v, want %v", seed, late, wantLate)
					}
					if rep == 0 {
						first = got
					} else if !slices.Equal(got, first) {
						t.Fatalf("seed %d: output depends on the batch boundaries", seed)
					}
				}
				two := fmt.Sprintf(`[[stages]]
id = "src"
function = "test.src"
[stages.config]
feed = "in"
[[stages]]
id = "w"
function = "window.apply"
inputs = ["src"]
[stages.config]
%s
time_column = "t"
group_by = "k"
[[stages]]
id = "agg"
function = "aggregate.stream"
inputs = ["w"]
[stages.config]
group_by = "k"
%s
[[stages]]
id = "out"
function = "test.sink"
inputs = ["agg"]
[[stages]]
id = "late"
function = "test.sink"
inputs = ["w.late"]
`, c.toml, refAggs)
				got, late := runCollect(t, mem, feedBatches(rng, data), two)
				if !slices.Equal(got, first) {
					t.Fatalf("seed %d: two-stage form differs:\n%s\nwant:\n%s", seed, strings.Join(got, "\n"), strings.Join(first, "\n"))
				}
				if !slices.Equal(late, wantLate) {
					t.Fatalf("seed %d: two-stage late rows %v, want %v", seed, late, wantLate)
				}
			}
		})
	}
}

func normalize(ms []map[string]any) []map[string]any {
	b, _ := json.Marshal(ms)
	var out []map[string]any
	_ = json.Unmarshal(b, &out)
	normTimes(out)
	return out
}

// normTimes turns the window bounds into µs (the text format of fractions
// is not what is compared).
func normTimes(ms []map[string]any) {
	for _, m := range ms {
		for _, c := range []string{ColStart, ColEnd} {
			if s, ok := m[c].(string); ok {
				if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
					m[c] = tm.UnixMicro()
				}
			}
		}
	}
}

func dump(ms []map[string]any) string {
	var ls []string
	for _, m := range ms {
		b, _ := json.Marshal(m)
		ls = append(ls, string(b))
	}
	return strings.Join(ls, "\n")
}
