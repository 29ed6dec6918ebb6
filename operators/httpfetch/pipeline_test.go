package httpfetch_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	httpconn "github.com/conveyor-etl/conveyor/connectors/http"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/httpfetch"
)

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

// barrierSource emits n one-row batches (id = 0..n-1), each followed by an
// acknowledgement barrier that logs "ack:<id>".
type barrierSource struct {
	n   int
	log *eventLog
}

var idSchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)

func (s barrierSource) Run(ctx context.Context, st *flow.Stage) error {
	for i := range s.n {
		b := array.NewInt64Builder(st.Alloc)
		b.Append(int64(i))
		arr := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(idSchema, []arrow.Array{arr}, 1)
		arr.Release()
		if err := st.Emit(ctx, rec); err != nil {
			return err
		}
		if err := st.EmitBarrier(ctx, func() { s.log.add("ack:%d", i) }); err != nil {
			return err
		}
	}
	return nil
}

// In a real pipeline, a source's barriers pass through http.fetch and are
// acknowledged by an HTTP sink only after the rows before them were
// fetched and posted: the at-least-once contract of DESIGN.md §1.
func TestBarriersThroughFetchAndSink(t *testing.T) {
	const n = 5
	log := &eventLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.Method {
		case http.MethodGet:
			log.add("fetch:%s", strings.TrimPrefix(r.URL.Path, "/lookup/"))
			fmt.Fprintf(w, `{"name":"n%s"}`, strings.TrimPrefix(r.URL.Path, "/lookup/"))
		case http.MethodPost:
			log.add("post:%s", body)
		}
	}))
	defer srv.Close()

	reg := flow.NewRegistry()
	httpfetch.Register(reg)
	httpconn.RegisterSinks(reg)
	reg.Register(&flow.Spec{Name: "test.bsource", Kind: flow.KindSource, Summary: "rows and barriers",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return barrierSource{n, log}, nil }})
	src := fmt.Sprintf(`
[pipeline]
name = "barriers"

[[stages]]
id = "src"
function = "test.bsource"

[[stages]]
id = "enrich"
function = "http.fetch"
inputs = ["src"]
[stages.config]
url = "%[1]s/lookup/{{ id }}"
result_field = "who"

[[stages]]
id = "push"
function = "http.post"
inputs = ["enrich"]
[stages.config]
url = "%[1]s/out"
`, srv.URL)
	f, err := flow.Parse("barriers.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	events := slices.Clone(log.events)
	log.mu.Unlock()
	idx := func(e string) int {
		i := slices.Index(events, e)
		if i < 0 {
			t.Fatalf("no %q in %v", e, events)
		}
		return i
	}
	for i := range n {
		fetch, post, ack := idx(fmt.Sprintf("fetch:%d", i)), idx(fmt.Sprintf(`post:{"id":%d,"who":{"name":"n%d"}}`, i, i)), idx(fmt.Sprintf("ack:%d", i))
		if !(fetch < post && post < ack) {
			t.Fatalf("row %d: fetch, post, ack out of order in %v", i, events)
		}
		if i+1 < n && ack > idx(fmt.Sprintf("fetch:%d", i+1)) && ack > idx(fmt.Sprintf(`post:{"id":%d,"who":{"name":"n%d"}}`, i+1, i+1)) {
			t.Fatalf("barrier %d held past the next row: %v", i, events)
		}
	}
}
