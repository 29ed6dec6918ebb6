package order

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/operators/order/gather"
)

// cursor reads one sorted run.
type cursor struct {
	run  int // position in the merge's run list (ties go to the lower)
	path string
	f    *os.File
	rd   *ipc.Reader
	cur  arrow.RecordBatch // borrowed from the merge's sources
	ks   *keySet
	row  int
	n    int
	slot uint32 // index of cur in the merge's sources
}

func (o *sortOp) openCursor(run int, path string) (*cursor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: reading run: %w", sortName, err)
	}
	rd, err := ipc.NewReader(bufio.NewReaderSize(f, 1<<20), ipc.WithAllocator(o.mem))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: reading run %s: %w", sortName, path, err)
	}
	return &cursor{run: run, path: path, f: f, rd: rd}, nil
}

// next loads the cursor's next non-empty batch; it returns nil when the run
// is exhausted (and the file is then closed and removed).
func (o *sortOp) next(c *cursor) (arrow.RecordBatch, error) {
	for c.rd.Next() {
		rec := c.rd.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		b, err := batch.Project(o.mem, rec, o.schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sortName, err)
		}
		c.cur, c.row, c.n = b, 0, int(b.NumRows())
		c.ks = buildKeys(o.keys, o.idx, []arrow.RecordBatch{b})
		return b, nil
	}
	if err := c.rd.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading run %s: %w", sortName, c.path, err)
	}
	o.closeCursor(c)
	os.Remove(c.path)
	delete(o.files, c.path)
	return nil, nil
}

func (o *sortOp) closeCursor(c *cursor) {
	if c.rd != nil {
		c.rd.Release()
		c.f.Close()
		c.rd = nil
	}
}

// less orders two cursors by their current rows, then by run.
func less(a, b *cursor) bool {
	if c := compare(a.ks, a.row, b.ks, b.row); c != 0 {
		return c < 0
	}
	return a.run < b.run
}

// merge k-way merges the runs (sorted files, in input order) into sink, in
// batches of chunk rows. Equal rows come out in run order, so the merge is
// stable. Memory: one batch per run plus the output batch.
func (o *sortOp) merge(ctx context.Context, runs []string, chunk int, sink func(arrow.RecordBatch) error) (err error) {
	var (
		heap    []*cursor
		all     []*cursor
		sources []arrow.RecordBatch // owned; indexed by cursor.slot and src
	)
	defer func() {
		for _, c := range all {
			o.closeCursor(c)
		}
		for _, b := range sources {
			b.Release()
		}
	}()
	for i, p := range runs {
		c, err := o.openCursor(i, p)
		if err != nil {
			return err
		}
		all = append(all, c)
		b, err := o.next(c)
		if err != nil {
			return err
		}
		if b != nil {
			c.slot = uint32(len(sources))
			sources = append(sources, b)
			heap = append(heap, c)
		}
	}
	down := func(i int) {
		n := len(heap)
		for {
			l := 2*i + 1
			if l >= n {
				return
			}
			m := l
			if r := l + 1; r < n && less(heap[r], heap[l]) {
				m = r
			}
			if !less(heap[m], heap[i]) {
				return
			}
			heap[i], heap[m] = heap[m], heap[i]
			i = m
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		down(i)
	}
	src := make([]uint32, 0, chunk)
	row := make([]uint32, 0, chunk)
	flush := func() error {
		if len(src) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var held int64
		for _, b := range sources {
			held += BatchBytes(b)
		}
		g := gather.New(o.mem, o.schema, sources)
		out, err := g.Gather(src, row)
		g.Release()
		if err != nil {
			return fmt.Errorf("%s: %w", sortName, err)
		}
		o.notePeak(held + BatchBytes(out))
		if err := sink(out); err != nil {
			return err
		}
		src, row = src[:0], row[:0]
		// Keep only the batches cursors still read from.
		keep := make([]arrow.RecordBatch, 0, len(heap))
		used := make([]bool, len(sources))
		for _, c := range heap {
			used[c.slot] = true
			c.slot = uint32(len(keep))
			keep = append(keep, c.cur)
		}
		for i, b := range sources {
			if !used[i] {
				b.Release()
			}
		}
		sources = keep
		return nil
	}
	for len(heap) > 0 {
		c := heap[0]
		src = append(src, c.slot)
		row = append(row, uint32(c.row))
		c.row++
		if c.row == c.n {
			b, err := o.next(c)
			if err != nil {
				return err
			}
			if b == nil {
				heap[0] = heap[len(heap)-1]
				heap = heap[:len(heap)-1]
			} else {
				c.slot = uint32(len(sources))
				sources = append(sources, b)
			}
		}
		if len(heap) > 0 {
			down(0)
		}
		if len(src) == chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
