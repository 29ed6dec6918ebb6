package order

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/order/gather"
)

const sortName = "sort.apply"

// fanIn is how many runs one merge pass reads at once.
const fanIn = 16

// sortOp is sort.apply's Operator. It buffers its input, sorts it when it
// ends, and emits the rows in batches of env.BatchSize. When the buffered
// input exceeds the memory budget it sorts what it holds and spills it to
// a temporary Arrow IPC file (a run); at the end it merges the runs.
type sortOp struct {
	keys      []keySpec
	mem       memory.Allocator
	batchSize int
	limit     int64
	tempDir   string

	schema *arrow.Schema
	idx    []int

	buf      []arrow.RecordBatch
	bufBytes int64
	bufRows  int

	runs         []string // spilled run files, in input order
	files        map[string]bool
	runBatchRows int
	peak         *atomic.Int64
}

func newSort(cfg flow.Config, env flow.BuildEnv) (any, error) {
	keys, err := sortKeys(cfg)
	if err != nil {
		return nil, err
	}
	limit := int64(DefaultMemoryLimit)
	if cfg.Has("memory_limit") {
		if limit, err = ParseBytes(cfg["memory_limit"]); err != nil {
			return nil, &flow.ParamError{Key: "memory_limit", Err: err}
		}
	}
	dir := cfg.Str("temp_dir")
	if dir == "" {
		dir = os.TempDir()
	} else {
		dir = env.Path(dir)
	}
	bs := env.BatchSize
	if bs <= 0 {
		bs = 65536
	}
	return &sortOp{keys: keys, mem: env.Alloc, batchSize: bs, limit: limit, tempDir: dir, files: map[string]bool{}}, nil
}

// sortKeys reads by, descending and nulls.
func sortKeys(cfg flow.Config) ([]keySpec, error) {
	by := cfg.Strings("by")
	if len(by) == 0 {
		return nil, &flow.ParamError{Key: "by", Err: errors.New("needs at least one column")}
	}
	keys := make([]keySpec, len(by))
	var descs []any
	switch d := cfg["descending"].(type) {
	case bool:
		for range by {
			descs = append(descs, d)
		}
	case []any:
		descs = d
	case nil:
		for range by {
			descs = append(descs, false)
		}
	}
	if len(descs) != len(by) {
		return nil, &flow.ParamError{Key: "descending", Err: fmt.Errorf("has %d values for %d keys in by", len(descs), len(by))}
	}
	for i, name := range by {
		d, ok := descs[i].(bool)
		if !ok {
			return nil, &flow.ParamError{Key: "descending", Err: fmt.Errorf("element %d must be a bool, got %v", i+1, descs[i])}
		}
		keys[i] = keySpec{name: name, desc: d, nullsFirst: d}
		switch cfg.Str("nulls") {
		case "first":
			keys[i].nullsFirst = true
		case "last":
			keys[i].nullsFirst = false
		}
	}
	return keys, nil
}

func checkSort(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	if _, err := sortKeys(cfg); err != nil {
		var pe *flow.ParamError
		if errors.As(err, &pe) {
			errs = append(errs, &flow.ConfigError{Key: pe.Key, Message: pe.Err.Error()})
		}
	}
	if cfg.Has("memory_limit") {
		if _, err := ParseBytes(cfg["memory_limit"]); err != nil {
			errs = append(errs, &flow.ConfigError{Key: "memory_limit", Message: err.Error()})
		}
	}
	return errs
}

func sortSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	keys, err := sortKeys(cfg)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 || inputs[0] == nil {
		return nil, nil
	}
	if _, err := bindKeys(keys, inputs[0]); err != nil {
		return nil, &flow.ParamError{Key: "by", Err: err}
	}
	return inputs[0], nil
}

// Run implements flow.Operator. Temporary files are removed whatever the
// outcome.
func (o *sortOp) Run(ctx context.Context, st *flow.Stage) (err error) {
	o.peak = &st.Metrics().PeakBytes
	defer o.cleanup()
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if msg.Kind != flow.MsgData || msg.Batch == nil {
			continue // watermarks are dropped: every row is held until the end
		}
		if err := o.add(ctx, msg.Batch); err != nil {
			return err
		}
	}
	if len(o.runs) == 0 {
		return o.sortBuffered(ctx, o.batchSize, func(b arrow.RecordBatch) error { return st.Emit(ctx, b) })
	}
	if len(o.buf) > 0 {
		if err := o.spill(ctx); err != nil {
			return err
		}
	}
	return o.mergeAll(ctx, func(b arrow.RecordBatch) error { return st.Emit(ctx, b) })
}

// add buffers b (taking ownership), spilling when over budget.
func (o *sortOp) add(ctx context.Context, b arrow.RecordBatch) error {
	if b.NumRows() == 0 {
		b.Release()
		return nil
	}
	if o.schema == nil || !o.schema.Equal(b.Schema()) {
		s := b.Schema()
		if o.schema != nil {
			s = batch.Unify(o.schema, s)
		}
		idx, err := bindKeys(o.keys, s)
		if err != nil {
			b.Release()
			return err
		}
		o.schema, o.idx = s, idx
	}
	o.buf = append(o.buf, b)
	o.bufRows += int(b.NumRows())
	o.bufBytes += BatchBytes(b) + b.NumRows()*int64(8+9*len(o.keys))
	o.notePeak(o.bufBytes)
	if o.bufBytes > o.limit {
		return o.spill(ctx)
	}
	return nil
}

func (o *sortOp) notePeak(v int64) {
	for {
		p := o.peak.Load()
		if v <= p || o.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// sortBuffered sorts the buffered batches and hands the rows to sink in
// batches of chunk rows; the buffer is empty afterwards.
func (o *sortOp) sortBuffered(ctx context.Context, chunk int, sink func(arrow.RecordBatch) error) error {
	defer o.releaseBuf()
	if len(o.buf) == 0 {
		return nil
	}
	for i, b := range o.buf {
		if !b.Schema().Equal(o.schema) {
			p, err := batch.Project(o.mem, b, o.schema)
			if err != nil {
				return fmt.Errorf("%s: %w", sortName, err)
			}
			b.Release()
			o.buf[i] = p
		}
	}
	ks := buildKeys(o.keys, o.idx, o.buf)
	o.notePeak(o.bufBytes + ks.bytes())
	perm := sortPerm(ks)
	ks = nil
	// batchOf maps a row number to its batch.
	batchOf := make([]uint32, len(perm))
	starts := make([]uint32, len(o.buf))
	pos := 0
	for bi, b := range o.buf {
		starts[bi] = uint32(pos)
		for j := 0; j < int(b.NumRows()); j++ {
			batchOf[pos+j] = uint32(bi)
		}
		pos += int(b.NumRows())
	}
	g := gather.New(o.mem, o.schema, o.buf)
	defer g.Release()
	src := make([]uint32, 0, chunk)
	row := make([]uint32, 0, chunk)
	for off := 0; off < len(perm); off += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(off+chunk, len(perm))
		src, row = src[:0], row[:0]
		for _, id := range perm[off:end] {
			bi := batchOf[id]
			src = append(src, bi)
			row = append(row, id-starts[bi])
		}
		out, err := g.Gather(src, row)
		if err != nil {
			return fmt.Errorf("%s: %w", sortName, err)
		}
		if err := sink(out); err != nil {
			return err
		}
	}
	return nil
}

func (o *sortOp) releaseBuf() {
	for _, b := range o.buf {
		b.Release()
	}
	o.buf, o.bufBytes, o.bufRows = nil, 0, 0
}

// spill sorts the buffer into a new run file.
func (o *sortOp) spill(ctx context.Context) error {
	if o.runBatchRows == 0 {
		// One batch per run during a merge of fanIn runs uses about half
		// the budget.
		rowBytes := max(1, o.bufBytes/int64(max(1, o.bufRows)))
		o.runBatchRows = int(min(int64(o.batchSize), max(16, o.limit/(2*fanIn)/rowBytes)))
	}
	path, err := o.writeRun(ctx, o.schema, func(sink func(arrow.RecordBatch) error) error {
		return o.sortBuffered(ctx, o.runBatchRows, sink)
	})
	if err != nil {
		return err
	}
	o.runs = append(o.runs, path)
	return nil
}

// writeRun creates a temporary file and writes to it, as an Arrow IPC
// stream, every batch produce hands to its sink.
func (o *sortOp) writeRun(ctx context.Context, schema *arrow.Schema, produce func(sink func(arrow.RecordBatch) error) error) (string, error) {
	f, err := os.CreateTemp(o.tempDir, "conveyor-sort-*.arrows")
	if err != nil {
		return "", fmt.Errorf("%s: spilling to temp_dir: %w", sortName, err)
	}
	o.files[f.Name()] = true
	bw := bufio.NewWriterSize(f, 1<<20)
	w := ipc.NewWriter(bw, ipc.WithSchema(schema), ipc.WithAllocator(o.mem))
	perr := produce(func(b arrow.RecordBatch) error {
		defer b.Release()
		if err := w.Write(b); err != nil {
			return fmt.Errorf("%s: writing run %s: %w", sortName, f.Name(), err)
		}
		return nil
	})
	cerr := w.Close()
	if cerr == nil {
		cerr = bw.Flush()
	}
	if err := f.Close(); cerr == nil {
		cerr = err
	}
	if perr != nil {
		return "", perr
	}
	if cerr != nil {
		return "", fmt.Errorf("%s: writing run %s: %w", sortName, f.Name(), cerr)
	}
	return f.Name(), nil
}

// mergeAll merges the runs, in passes of at most fanIn runs, into sink.
func (o *sortOp) mergeAll(ctx context.Context, sink func(arrow.RecordBatch) error) error {
	runs := o.runs
	for len(runs) > fanIn {
		var next []string
		for i := 0; i < len(runs); i += fanIn {
			group := runs[i:min(i+fanIn, len(runs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			path, err := o.writeRun(ctx, o.schema, func(s func(arrow.RecordBatch) error) error {
				return o.merge(ctx, group, o.runBatchRows, s)
			})
			if err != nil {
				return err
			}
			next = append(next, path)
		}
		runs = next
	}
	// Output batches: env.BatchSize rows, fewer when a small budget asks.
	out := o.batchSize
	if o.runBatchRows > 0 {
		out = min(o.batchSize, max(64, o.runBatchRows*fanIn/4))
	}
	return o.merge(ctx, runs, out, sink)
}

func (o *sortOp) cleanup() {
	o.releaseBuf()
	for p := range o.files {
		os.Remove(p)
	}
	o.files = map[string]bool{}
}
