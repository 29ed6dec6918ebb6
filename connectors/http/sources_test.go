package httpconn

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		links []string
		want  string
	}{
		{[]string{`<https://api.x/items?page=2>; rel="next", <https://api.x/items?page=9>; rel="last"`}, "https://api.x/items?page=2"},
		{[]string{`<https://api.x/items?page=1>; rel="prev"`, `</items?page=3&q=a,b>; title="x, y"; rel="next"`}, "https://api.x/items?page=3&q=a,b"},
		{[]string{`<page4>; rel="prefetch next"`}, "https://api.x/page4"},
		{[]string{`<https://api.x/items?page=9>; rel=last`}, ""},
		{nil, ""},
	} {
		h := http.Header{}
		for _, l := range tc.links {
			h.Add("Link", l)
		}
		got, err := nextLink(h, "https://api.x/items?page=2")
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.links, got, err, tc.want)
		}
	}
}

func TestJSONRecords(t *testing.T) {
	for _, tc := range []struct {
		body, format string
		n            int
		bad, err     string
	}{
		{`[{"a":1},{"a":2}]`, formatJSON, 2, "", ""},
		{`{"a":1} {"a":2}` + "\n" + `{"a":3}`, formatJSON, 3, "", ""},
		{`[{"a":1}, [1], "x"]`, formatJSON, 3, "record 2: not a JSON object: got an array", ""},
		{`[{"a":1}] [{"a":2}]`, formatJSON, 0, "", "unexpected data after the array"},
		{"[{\"a\":1},\n{\"a\":}]", formatJSON, 0, "", "at line 2"},
		{`[{"a":1}`, formatJSON, 0, "", "unexpected end after record 1"},
		{"\xEF\xBB\xBF{\"a\":1}\n\n{\"a\":2\n{\"a\":3}\r\n", formatJSONL, 3, "line 3: invalid JSON", ""},
	} {
		recs, err := jsonRecords([]byte(tc.body), tc.format, nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || len(recs) != tc.n {
			t.Errorf("%q: %d records, %v; want %d", tc.body, len(recs), err, tc.n)
			continue
		}
		var bad []string
		for _, r := range recs {
			if r.err != nil {
				bad = append(bad, r.where+": "+r.err.Error())
			}
		}
		if tc.bad != "" && (len(bad) == 0 || !strings.HasPrefix(bad[0], tc.bad)) {
			t.Errorf("%q: bad %q, want %q", tc.body, bad, tc.bad)
		}
	}
}

// Concurrent first bodies: exactly one fixes the schema; every body is
// read against it (accepted whole, or with its records rejected).
func TestDecoderConcurrentFirstBodies(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, format := range []string{formatJSON, formatCSV} {
		cfg, errs := flow.CheckConfig(ServeSpec(), map[string]any{"format": format})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		opts, err := bodyOptionsFromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := newDecoder(opts, "request")
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := map[string]int{}
		for k := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("k%d", k%2)
				body := fmt.Sprintf(`[{"%s": %d}]`, key, k)
				if format == formatCSV {
					body = fmt.Sprintf("%s\n%d\n", key, k)
				}
				b, bad, err := d.decode(context.Background(), mem, clock.New(), []byte(body), true)
				if b != nil {
					b.Release()
				}
				if err == nil && len(bad) == 0 {
					mu.Lock()
					accepted[key]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(accepted) != 1 {
			t.Errorf("%s: bodies of two schemas accepted: %v (schema %v)", format, accepted, d.Schema())
		}
		for key, n := range accepted {
			if n != 8 || d.Schema().Field(0).Name != key {
				t.Errorf("%s: %d bodies with %s accepted under schema %v", format, n, key, d.Schema())
			}
		}
	}
}

// cursor_column of timestamps: a poll keeps the rows greater than the
// largest value seen before it, whatever their order; a value equal to it
// (e at 12:00 after d at 12:00) counts as seen; a null only passes on the
// first poll.
func TestNewerRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := flow.RunIsolated(context.Background(), &flow.Spec{Name: "t", Kind: flow.KindSource,
		New: func(flow.Config, flow.BuildEnv) (any, error) { return newerProbe{}, nil }}, nil, flow.BuildEnv{Alloc: mem}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := batch.ToNDJSON(res.Output...)
	res.Release()
	want := `{"ts":"2024-05-01T10:00:00Z","k":"b"}` + "\n" + `{"ts":"2024-05-01T09:00:00Z","k":"a"}` + "\n" + `{"ts":null,"k":"n"}` + "\n" +
		`{"ts":"2024-05-01T11:00:00Z","k":"c"}` + "\n" + `{"ts":"2024-05-01T12:00:00Z","k":"d"}` + "\n" +
		`{"ts":"2024-05-01T13:00:00Z","k":"f"}` + "\n"
	if got != want {
		t.Errorf("rows\n%s\nwant\n%s", got, want)
	}
}

// newerProbe runs getter.newer over successive "polls" on a stage.
type newerProbe struct{}

func (p newerProbe) Run(ctx context.Context, st *flow.Stage) error {
	g := &getter{cursorCol: "ts"}
	polls := [][]string{
		{`{"ts":"2024-05-01T10:00:00Z","k":"b"}`, `{"ts":"2024-05-01T09:00:00Z","k":"a"}`, `{"ts":null,"k":"n"}`},
		{`{"ts":"2024-05-01T11:00:00Z","k":"c"}`, `{"ts":"2024-05-01T10:00:00Z","k":"b"}`, `{"ts":null,"k":"n"}`, `{"ts":"2024-05-01T12:00:00Z","k":"d"}`},
		{`{"ts":"2024-05-01T12:00:00Z","k":"d"}`, `{"ts":"2024-05-01T12:00:00Z","k":"e"}`, `{"ts":"2024-05-01T13:00:00Z","k":"f"}`},
	}
	for _, rows := range polls {
		in, err := batch.FromNDJSON(st.Alloc, strings.Join(rows, "\n"), nil)
		if err != nil {
			return err
		}
		out, max, err := g.newer(st, in)
		if err != nil {
			return err
		}
		if err := st.Emit(ctx, out); err != nil {
			return err
		}
		if max != nil && (g.seen == nil || max.greater(g.seen)) {
			g.seen = max
		}
	}
	return nil
}

// What the catalog's example test requires of every stage, and the
// registration of both sources.
func TestSourcesRegisteredAndDocumented(t *testing.T) {
	reg := flow.NewRegistry()
	RegisterSources(reg)
	for _, name := range []string{"http.get", "http.serve"} {
		spec, ok := reg.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		if spec.Kind != flow.KindSource || spec.Summary == "" || spec.Description == "" || len(spec.Examples) == 0 {
			t.Errorf("%s: kind, summary, description or examples missing", name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: parameter %s has no doc", name, p.Name)
			}
		}
	}
}
