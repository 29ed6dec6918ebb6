package convert

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestChunkExamples(t *testing.T) { spectest.RunAll(t, ChunkSpec()) }

var chunkSchemaIn = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "at", Type: batch.Timestamp, Nullable: true},
}, nil)

func TestChunkAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	names := []any{"a", "é", "日本語", "", nil}
	var rows []map[string]any
	for i := range 257 {
		r := map[string]any{"id": int64(i), "name": names[rng.IntN(len(names))]}
		if rng.IntN(4) > 0 {
			r["x"] = float64(rng.IntN(100)) / 4
		}
		if rng.IntN(4) > 0 {
			r["at"] = fmt.Sprintf("2024-05-01T10:00:%02dZ", rng.IntN(60))
		}
		rows = append(rows, r)
	}
	for _, size := range []int{1, 2, 3, 7, 64, 256, 257, 1000} {
		for _, sizes := range [][]int{{257}, {1}, {10, 0, 3, 100}, {64}} {
			t.Run(fmt.Sprintf("size%d/batches%v", size, sizes), func(t *testing.T) {
				mem := newMem(t)
				in := split(t, mem, chunkSchemaIn, rows, sizes...)
				ref := rowsOf(in) // the input as read back: the reference's source
				res, err := run(ChunkSpec(), mem, map[string]any{"batch_size": size}, "", in...)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				got := listRows(res.Output)
				wantChunks := (len(ref) + size - 1) / size
				if len(got) != wantChunks {
					t.Fatalf("%d chunks, want %d", len(got), wantChunks)
				}
				for c, g := range got {
					for _, col := range []string{"id", "name", "x", "at"} {
						list, ok := g[col].([]any)
						if !ok {
							t.Fatalf("chunk %d col %s: %T", c, col, g[col])
						}
						lo, hi := c*size, min((c+1)*size, len(ref))
						if len(list) != hi-lo {
							t.Fatalf("chunk %d col %s: %d values, want %d", c, col, len(list), hi-lo)
						}
						for k, v := range list {
							if !sameValue(ref[lo+k][col], v) {
								t.Fatalf("chunk %d col %s [%d] = %v, want %v", c, col, k, v, ref[lo+k][col])
							}
						}
					}
				}
				for _, b := range res.Output {
					if b.Schema().Field(1).Type.ID() != arrow.LIST {
						t.Fatalf("type %s", b.Schema().Field(1).Type)
					}
				}
			})
		}
	}
}

// listRows reads list-valued rows as column → []any of batch.Value.
func listRows(bs []arrow.RecordBatch) []map[string]any {
	var out []map[string]any
	for _, b := range bs {
		for i := 0; i < int(b.NumRows()); i++ {
			r := map[string]any{}
			for j, f := range b.Schema().Fields() {
				l := b.Column(j).(*array.List)
				lo, hi := l.ValueOffsets(i)
				vals := []any{}
				for k := lo; k < hi; k++ {
					vals = append(vals, batch.Value(l.ListValues(), int(k)))
				}
				r[f.Name] = vals
			}
			out = append(out, r)
		}
	}
	return out
}

func TestChunkEmptyAndSchemaChange(t *testing.T) {
	mem := newMem(t)
	res, err := run(ChunkSpec(), mem, map[string]any{"batch_size": 3}, "", build(t, mem, chunkSchemaIn, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 0 {
		t.Fatal("output for empty input")
	}
	res.Release()
	other := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}}, nil)
	res, err = run(ChunkSpec(), mem, map[string]any{"batch_size": 3}, "",
		build(t, mem, chunkSchemaIn, []map[string]any{{"id": int64(1)}}),
		build(t, mem, other, []map[string]any{{"id": "x"}, {"id": "y"}, {"id": "z"}, {"id": "w"}}))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"id\":[1],\"name\":[null],\"x\":[null],\"at\":[null]}\n{\"id\":[\"x\",\"y\",\"z\"]}\n{\"id\":[\"w\"]}\n"
	if got := batch.ToNDJSON(res.Output...); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	res.Release()
	if _, errs := flow.CheckConfig(ChunkSpec(), map[string]any{"batch_size": 0}); len(errs) == 0 {
		t.Fatal("batch_size 0 accepted")
	}
	out, err := ChunkSpec().Schema(flow.Config{"batch_size": int64(2)}, flow.BuildEnv{}, []*arrow.Schema{chunkSchemaIn})
	if err != nil || out.Field(3).Type.String() != arrow.ListOf(batch.Timestamp).String() {
		t.Fatalf("schema %v %v", out, err)
	}
}
