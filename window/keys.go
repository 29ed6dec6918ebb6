package window

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/operators/aggregate"
	"github.com/conveyor-etl/conveyor/operators/order/gather"
)

// keys maps group keys to dense ids (a rowkey table) and gives back the
// key values of any ids: the keys are copied out of the table in chunks
// (ids lo..hi-1, appended as new keys appear), gathered by id on emission;
// the chunks are compacted into one when they become many.
type keys struct {
	mem    memory.Allocator
	types  []arrow.DataType
	tab    *aggregate.KeyTable
	schema *arrow.Schema
	chunks []arrow.RecordBatch
	starts []int // first id of each chunk
	copied int   // ids copied into chunks
	cols   []arrow.Array
	src    []uint32
	row    []uint32
}

func newKeys(mem memory.Allocator, names []string, types []arrow.DataType) (*keys, error) {
	tab, err := aggregate.NewKeyTable(nil, types)
	if err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(types))
	for i, t := range types {
		fields[i] = arrow.Field{Name: names[i], Type: aggregate.KeyOutputType(t), Nullable: true}
	}
	return &keys{mem: mem, types: types, tab: tab, schema: arrow.NewSchema(fields, nil)}, nil
}

func (k *keys) len() int { return k.tab.Len() }

// insert assigns ids[i] to row i of b's key columns idx.
func (k *keys) insert(b arrow.RecordBatch, idx []int, ids []int32) error {
	k.cols = k.cols[:0]
	for _, i := range idx {
		k.cols = append(k.cols, b.Column(i))
	}
	return k.tab.Insert(k.cols, ids)
}

// sync copies the keys not yet copied into a new chunk, compacting when
// there are many chunks.
func (k *keys) sync() {
	n := k.tab.Len()
	if k.copied == n {
		return
	}
	lo := k.copied
	if len(k.chunks) >= 32 {
		k.releaseChunks()
		lo = 0
	}
	cols := k.tab.KeysRange(k.mem, lo, n)
	b := array.NewRecordBatch(k.schema, cols, int64(n-lo))
	for _, c := range cols {
		c.Release()
	}
	k.chunks = append(k.chunks, b)
	k.starts = append(k.starts, lo)
	k.copied = n
}

// gather returns the key columns of ids, in order.
func (k *keys) gather(ids []int32) ([]arrow.Array, error) {
	k.sync()
	k.src, k.row = k.src[:0], k.row[:0]
	for _, id := range ids {
		c := sort.SearchInts(k.starts, int(id)+1) - 1
		k.src = append(k.src, uint32(c))
		k.row = append(k.row, uint32(int(id)-k.starts[c]))
	}
	g := gather.New(k.mem, k.schema, k.chunks)
	defer g.Release()
	out := make([]arrow.Array, 0, len(k.types))
	for c := range k.types {
		a, err := g.Column(c, k.src, k.row)
		if err != nil {
			for _, x := range out {
				x.Release()
			}
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (k *keys) bytes() int64 {
	n := k.tab.Bytes()
	for _, c := range k.chunks {
		for _, col := range c.Columns() {
			for _, buf := range col.Data().Buffers() {
				if buf != nil {
					n += int64(buf.Len())
				}
			}
		}
	}
	return n
}

func (k *keys) releaseChunks() {
	for _, c := range k.chunks {
		c.Release()
	}
	k.chunks, k.starts, k.copied = k.chunks[:0], k.starts[:0], 0
}

func (k *keys) release() {
	k.releaseChunks()
	k.tab.Release()
}
