package convert

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func build(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows []map[string]any) arrow.RecordBatch {
	t.Helper()
	b, err := batch.FromRows(mem, schema, rows)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// split builds rows into batches of the given sizes (cycled).
func split(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows []map[string]any, sizes ...int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for k, i := 0, 0; i < len(rows) || k == 0; k++ {
		n := sizes[k%len(sizes)]
		end := min(i+n, len(rows))
		out = append(out, build(t, mem, schema, rows[i:end]))
		i = end
		if i >= len(rows) {
			break
		}
	}
	return out
}

func run(spec *flow.Spec, mem memory.Allocator, cfg map[string]any, strategy flow.Strategy, in ...arrow.RecordBatch) (*flow.IsolatedResult, error) {
	return flow.RunIsolated(context.Background(), spec, cfg, flow.BuildEnv{Alloc: mem}, strategy, in)
}

func rowsOf(bs []arrow.RecordBatch) []map[string]any {
	var out []map[string]any
	for _, b := range bs {
		out = append(out, batch.Rows(b)...)
	}
	return out
}

// errorRows returns the rejected rows' reasons and row JSON.
func errorRows(res *flow.IsolatedResult) (reasons []string, rows []string) {
	for _, b := range res.Ports[flow.PortErrors] {
		for _, r := range batch.Rows(b) {
			reasons = append(reasons, r["error"].(string))
			s, _ := r["row"].(string)
			rows = append(rows, s)
		}
	}
	return
}

func TestRegister(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, name := range []string{"cast.apply", "json.extract", "chunk.apply"} {
		spec, ok := r.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		if spec.Summary == "" || spec.Description == "" || spec.Schema == nil {
			t.Errorf("%s: missing summary, description or Schema", name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: %s has no doc", name, p.Name)
			}
		}
	}
}
