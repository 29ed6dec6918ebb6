package order

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// genSource emits `batches` batches of `rows` rows with descending keys.
type genSource struct{ batches, rows int }

var genSchema = arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.String}}, nil)

func (g genSource) Run(ctx context.Context, st *flow.Stage) error {
	i := g.batches * g.rows
	for range g.batches {
		kb := array.NewInt64Builder(st.Alloc)
		vb := array.NewStringBuilder(st.Alloc)
		for range g.rows {
			kb.Append(int64(i))
			vb.Append("some payload text of moderate length")
			i--
		}
		k, v := kb.NewArray(), vb.NewArray()
		kb.Release()
		vb.Release()
		b := array.NewRecordBatch(genSchema, []arrow.Array{k, v}, int64(g.rows))
		k.Release()
		v.Release()
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// checkSink checks the keys ascend and counts rows.
type checkSink struct {
	rows *int64
	last *int64
	bad  *bool
}

func (c checkSink) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	for _, k := range b.Column(0).(*array.Int64).Int64Values() {
		if k < *c.last {
			*c.bad = true
		}
		*c.last = k
	}
	*c.rows += b.NumRows()
	return nil
}
func (c checkSink) Close(ctx context.Context, st *flow.Stage) error { return nil }
func (c checkSink) Abort()                                          {}

// TestSortSpillPipelinePeak sorts ~4 MB through a 256 KiB budget in a
// pipeline and checks the memory the stage reports holding.
func TestSortSpillPipelinePeak(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var rows, last int64
	var bad bool
	reg := flow.NewRegistry()
	Register(reg)
	reg.Register(&flow.Spec{Name: "test.gen", Kind: flow.KindSource, Summary: "gen", Description: "gen",
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) { return genSource{batches: 100, rows: 1000}, nil }})
	reg.Register(&flow.Spec{Name: "test.check", Kind: flow.KindSink, Summary: "check", Description: "check",
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return checkSink{rows: &rows, last: &last, bad: &bad}, nil
		}})
	dir := t.TempDir()
	src := `
[pipeline]
name = "spill"
[global]
channel_capacity = 2
batch_size = 1000
[[stages]]
id = "gen"
function = "test.gen"
[[stages]]
id = "sort"
function = "sort.apply"
inputs = ["gen"]
[stages.config]
by = "k"
memory_limit = "256KiB"
temp_dir = "` + dir + `"
[[stages]]
id = "out"
function = "test.check"
inputs = ["sort"]
`
	f, err := flow.Parse("spill.toml", []byte(src))
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if rows != 100_000 || bad {
		t.Fatalf("%d rows, sorted: %v", rows, !bad)
	}
	for _, rep := range r.Report() {
		if rep.ID == "sort" {
			t.Logf("peak %d bytes for %d bytes of input", rep.PeakBytes, 100_000*(8+4+36))
			if rep.PeakBytes == 0 || rep.PeakBytes > 2*256<<10 {
				t.Errorf("peak %d bytes, budget %d", rep.PeakBytes, 256<<10)
			}
		}
	}
}
