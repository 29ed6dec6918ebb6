package generate

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExamples(t *testing.T) { spectest.RunAll(t, Spec()) }

// run runs generate alone on a checked allocator; the result is released
// and the allocator checked when the test ends.
func run(t *testing.T, cfg map[string]any, env flow.BuildEnv) *flow.IsolatedResult {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	env.Alloc = mem
	res, err := flow.RunIsolated(context.Background(), Spec(), cfg, env, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Release)
	return res
}

// rowCount is the number of rows of bs.
func rowCount(bs []arrow.RecordBatch) int64 {
	var n int64
	for _, b := range bs {
		n += b.NumRows()
	}
	return n
}

// column returns the named column of b.
func column(t *testing.T, b arrow.RecordBatch, name string) arrow.Array {
	t.Helper()
	idx := b.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %s", name, b.Schema())
	}
	return b.Column(idx[0])
}
