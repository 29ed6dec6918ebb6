package batch

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Coalescer accumulates small batches and emits them as one batch once
// they hold at least a target number of rows. It is not safe for concurrent
// use; it starts no goroutine and never blocks.
//
// # Ownership
//
// Push takes ownership of the batch it is given; every batch returned by
// Push or Flush is owned by the caller. Release frees whatever is still
// held. Memory held is bounded by one target's worth of rows plus the last
// batch pushed.
type Coalescer struct {
	mem     memory.Allocator
	target  int
	pending []arrow.RecordBatch
	rows    int
}

// NewCoalescer returns a Coalescer emitting batches of at least target
// rows (target < 1 is taken as 1).
func NewCoalescer(mem memory.Allocator, target int) *Coalescer {
	return &Coalescer{mem: mem, target: max(target, 1)}
}

// Len is the number of rows held.
func (c *Coalescer) Len() int { return c.rows }

// Push adds b (taking ownership) and returns a batch when the rows held
// reach the target, or nil. A batch that already has target rows or more
// while nothing is held passes through unchanged. When b's schema differs
// from the held batches', the held rows are returned as they are (possibly
// fewer than target) and b starts a new accumulation; it is then emitted
// by a later Push or Flush even if it alone reaches the target. Empty
// batches are released and ignored.
func (c *Coalescer) Push(b arrow.RecordBatch) (arrow.RecordBatch, error) {
	if b == nil {
		return nil, nil
	}
	if b.NumRows() == 0 {
		b.Release()
		return nil, nil
	}
	if len(c.pending) > 0 && !c.pending[0].Schema().Equal(b.Schema()) {
		out, err := c.Flush()
		c.pending, c.rows = []arrow.RecordBatch{b}, int(b.NumRows())
		return out, err
	}
	if len(c.pending) == 0 && int(b.NumRows()) >= c.target {
		return b, nil
	}
	c.pending = append(c.pending, b)
	c.rows += int(b.NumRows())
	if c.rows < c.target {
		return nil, nil
	}
	return c.Flush()
}

// Flush returns the held rows as one batch (nil when nothing is held) and
// empties the Coalescer.
func (c *Coalescer) Flush() (arrow.RecordBatch, error) {
	pending := c.pending
	c.pending, c.rows = nil, 0
	switch len(pending) {
	case 0:
		return nil, nil
	case 1:
		return pending[0], nil
	}
	defer func() {
		for _, b := range pending {
			b.Release()
		}
	}()
	return Concat(c.mem, pending)
}

// Release frees every held batch.
func (c *Coalescer) Release() {
	for _, b := range c.pending {
		b.Release()
	}
	c.pending, c.rows = nil, 0
}

// Concat concatenates batches of one schema into a new batch owned by the
// caller. The inputs are borrowed. It fails with ErrSchemaMismatch when the
// schemas differ.
func Concat(mem memory.Allocator, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("concat: no batches")
	}
	schema := batches[0].Schema()
	rows := int64(0)
	for _, b := range batches {
		if !b.Schema().Equal(schema) {
			return nil, fmt.Errorf("concat: %w: %s vs %s", ErrSchemaMismatch, schema, b.Schema())
		}
		rows += b.NumRows()
	}
	cols := make([]arrow.Array, schema.NumFields())
	parts := make([]arrow.Array, len(batches))
	for c := range cols {
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		arr, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, a := range cols[:c] {
				a.Release()
			}
			return nil, fmt.Errorf("concat column %q: %w", schema.Field(c).Name, err)
		}
		cols[c] = arr
	}
	out := array.NewRecordBatch(schema, cols, rows)
	for _, a := range cols {
		a.Release()
	}
	return out, nil
}
