package convert

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

const chunkName = "chunk.apply"

// ChunkSpec returns chunk.apply's spec (a new value on each call).
func ChunkSpec() *flow.Spec {
	one := 1.0
	return &flow.Spec{
		Name:    chunkName,
		Kind:    flow.KindTransform,
		Tags:    []string{"shape"},
		Summary: "Group consecutive rows into list-valued rows (for batch APIs).",
		Description: `Every batch_size consecutive input rows become one output row in which each column
holds the list of the chunk's values, in input order: a column of type T becomes
list<T> (elements nullable; a null input cell is a null element). Chunks span input
batches: rows left over at the end of a batch wait for the next one, and the last chunk,
emitted at the end of input, may be shorter than batch_size. Empty input gives no row.

When the input schema changes between batches, the rows held under the old schema are
emitted first as a (short) chunk of their own, and chunking restarts. At most
batch_size - 1 rows are held between batches; the chunk values are shared with the
input batch when a batch holds whole chunks, and copied only to join a remainder with
the next batch.`,
		Params: []flow.Param{
			{Name: "batch_size", Type: flow.TypeInt, Required: true, Min: &one, Doc: "Rows per chunk (>= 1)."},
		},
		New:    newChunk,
		Schema: chunkSchema,
		Examples: []flow.Example{
			{
				Title:  "Pairs of rows",
				Config: "batch_size = 2\n",
				Input:  "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n{\"id\":3,\"name\":null}\n",
				Output: "{\"id\":[1,2],\"name\":[\"a\",\"b\"]}\n{\"id\":[3],\"name\":[null]}\n",
			},
			{
				Title:  "Everything in one chunk",
				Config: "batch_size = 100\n",
				Input:  "{\"x\":1.5}\n{\"x\":2}\n",
				Output: "{\"x\":[1.5,2]}\n",
			},
		},
	}
}

func chunkOutSchema(in *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, in.NumFields())
	for i, f := range in.Fields() {
		fields[i] = arrow.Field{Name: f.Name, Type: arrow.ListOfField(arrow.Field{Name: "item", Type: f.Type, Nullable: true, Metadata: f.Metadata}), Nullable: true}
	}
	meta := in.Metadata()
	return arrow.NewSchema(fields, &meta)
}

func chunkSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) != 1 || inputs[0] == nil {
		return nil, nil
	}
	return chunkOutSchema(inputs[0]), nil
}

// chunkOp is chunk.apply's Transformer (and Flusher). It is not safe for
// concurrent use.
type chunkOp struct {
	size        int
	schema      *arrow.Schema
	outSchema   *arrow.Schema
	pending     []arrow.RecordBatch // rows waiting for a full chunk
	pendingRows int
}

func newChunk(cfg flow.Config, env flow.BuildEnv) (any, error) {
	size := cfg.Int("batch_size")
	if size < 1 {
		return nil, fmt.Errorf("%s: batch_size must be >= 1, got %d", chunkName, size)
	}
	return &chunkOp{size: size}, nil
}

// Transform emits the whole chunks available after in (borrowed) and keeps
// the remainder.
func (c *chunkOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if in.NumRows() == 0 {
		return nil, nil
	}
	if c.schema == nil || (c.schema != in.Schema() && !c.schema.Equal(in.Schema())) {
		// A new schema: the rows held under the old one go out as a short
		// chunk first.
		if err := c.Flush(ctx, st); err != nil {
			return nil, err
		}
		c.schema, c.outSchema = in.Schema(), chunkOutSchema(in.Schema())
	}
	if c.pendingRows+int(in.NumRows()) < c.size {
		// Not a whole chunk yet: hold the batch (no copy).
		in.Retain()
		c.pending = append(c.pending, in)
		c.pendingRows += int(in.NumRows())
		var held int64
		for _, b := range c.pending {
			held += batchBytes(b)
		}
		if held > st.Metrics().PeakBytes.Load() {
			st.Metrics().PeakBytes.Store(held)
		}
		return nil, nil
	}
	all := in
	if len(c.pending) > 0 {
		joined, err := batch.Concat(st.Alloc, append(c.pending, in))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", chunkName, err)
		}
		defer joined.Release()
		all = joined
		c.releasePending()
	}
	n := int(all.NumRows())
	whole := n / c.size * c.size
	out := c.lists(st.Alloc, all, whole)
	if whole < n {
		c.pending = append(c.pending, all.NewSlice(int64(whole), int64(n)))
		c.pendingRows = n - whole
	}
	return out, nil
}

func (c *chunkOp) releasePending() {
	for _, b := range c.pending {
		b.Release()
	}
	c.pending, c.pendingRows = c.pending[:0], 0
}

// Flush emits the last, short chunk.
func (c *chunkOp) Flush(ctx context.Context, st *flow.Stage) error {
	if len(c.pending) == 0 {
		return nil
	}
	defer c.releasePending()
	all, err := batch.Concat(st.Alloc, c.pending)
	if err != nil {
		return fmt.Errorf("%s: %w", chunkName, err)
	}
	defer all.Release()
	return st.Emit(ctx, c.lists(st.Alloc, all, int(all.NumRows())))
}

// lists returns the first rows rows of b as ceil(rows/size) list-valued
// rows sharing b's column data.
func (c *chunkOp) lists(mem memory.Allocator, b arrow.RecordBatch, rows int) arrow.RecordBatch {
	chunks := (rows + c.size - 1) / c.size
	offs := memory.NewResizableBuffer(mem)
	defer offs.Release()
	offs.Resize((chunks + 1) * 4)
	ov := arrow.Int32Traits.CastFromBytes(offs.Bytes())
	for k := 0; k <= chunks; k++ {
		ov[k] = int32(min(k*c.size, rows))
	}
	cols := make([]arrow.Array, b.NumCols())
	for i, col := range b.Columns() {
		child := array.NewSliceData(col.Data(), 0, int64(rows))
		data := array.NewData(c.outSchema.Field(i).Type, chunks, []*memory.Buffer{nil, offs}, []arrow.ArrayData{child}, 0, 0)
		cols[i] = array.MakeFromData(data)
		data.Release()
		child.Release()
	}
	out := array.NewRecordBatch(c.outSchema, cols, int64(chunks))
	for _, a := range cols {
		a.Release()
	}
	return out
}

// batchBytes is the size of the buffers b holds (whole buffers, for a
// slice: what it keeps alive).
func batchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, buf := range d.Buffers() {
		if buf != nil {
			n += int64(buf.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
