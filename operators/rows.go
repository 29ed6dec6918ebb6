package operators

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DropRows returns in without the rows listed in drop (ascending, no
// duplicates), gathered with filter.apply's typed kernels. in is borrowed;
// the result is owned by the caller: in itself, retained, when drop is
// empty; nil when every row is dropped.
func DropRows(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch, drop []int32) (arrow.RecordBatch, error) {
	n := int(in.NumRows())
	switch len(drop) {
	case 0:
		in.Retain()
		return in, nil
	case n:
		return nil, nil
	}
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	bitutil.SetBitsTo(bits, 0, int64(n), true)
	for _, r := range drop {
		bitutil.ClearBit(bits, int(r))
	}
	return (&filterOp{}).take(ctx, mem, in, bits)
}
