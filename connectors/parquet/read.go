package parquet

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// reader is the parquet.read operator.
type reader struct {
	path      string
	columns   []string
	hint      []string // the planner's projection (BuildEnv.Columns)
	batchSize int
}

func newReader(cfg flow.Config, env flow.BuildEnv) (any, error) {
	bs := env.BatchSize
	if cfg.Int("batch_size") > 0 {
		bs = cfg.Int("batch_size")
	}
	if bs <= 0 {
		bs = 65536
	}
	return &reader{path: env.Path(cfg.Str("path")), columns: cfg.Strings("columns"), hint: env.Columns, batchSize: bs}, nil
}

type openFile struct {
	rdr *file.Reader
	fr  *pqarrow.FileReader
}

func (r *reader) open(st *flow.Stage, path string) (*openFile, error) {
	props := pq.NewReaderProperties(st.Alloc)
	// Read pages as needed instead of whole column chunks: memory stays
	// bounded by a batch, not a row group.
	props.BufferedStreamEnabled = true
	rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("parquet.read: opening %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: int64(r.batchSize)}, st.Alloc)
	if err != nil {
		rdr.Close()
		return nil, fmt.Errorf("parquet.read: %s: %w", path, err)
	}
	return &openFile{rdr: rdr, fr: fr}, nil
}

// Run reads every matching file in name order, row group by row group,
// emitting batches of at most batch_size rows, all with one schema: the
// projected columns (in the order asked) with types unified across files
// (a column missing from a file is null there). It returns nil at the end
// or when the pipeline drains.
func (r *reader) Run(ctx context.Context, st *flow.Stage) error {
	files, err := fileio.Expand(r.path)
	if err != nil {
		return fmt.Errorf("parquet.read: %w", err)
	}
	// Pass 1: schemas (file metadata only).
	schemas := make([]*arrow.Schema, len(files))
	for i, path := range files {
		of, err := r.open(st, path)
		if err != nil {
			return err
		}
		schemas[i], err = of.fr.Schema()
		of.rdr.Close()
		if err != nil {
			return fmt.Errorf("parquet.read: %s: %w", path, err)
		}
	}
	target, err := r.targetSchema(schemas)
	if err != nil {
		return err
	}
	for i, path := range files {
		if err := r.readFile(ctx, st, path, schemas[i], target); err != nil {
			if err == errDrained {
				return nil
			}
			return err
		}
	}
	return nil
}

var errDrained = fmt.Errorf("drained")

// readSchema is parquet.read's Spec.Schema: the files' metadata only. No
// matching file gives an unknown schema.
func readSchema(cfg flow.Config, env flow.BuildEnv, _ []*arrow.Schema) (*arrow.Schema, error) {
	files := fileio.ExpandExisting(env.Path(cfg.Str("path")))
	if len(files) == 0 {
		return nil, nil
	}
	schemas := make([]*arrow.Schema, len(files))
	for i, path := range files {
		rdr, err := file.OpenParquetFile(path, false)
		if err != nil {
			return nil, &flow.ParamError{Key: "path", Err: fmt.Errorf("parquet.read: opening %s: %w", path, err)}
		}
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err == nil {
			schemas[i], err = fr.Schema()
		}
		rdr.Close()
		if err != nil {
			return nil, &flow.ParamError{Key: "path", Err: fmt.Errorf("parquet.read: %s: %w", path, err)}
		}
	}
	r := &reader{columns: cfg.Strings("columns")}
	s, err := r.targetSchema(schemas)
	if err != nil {
		return nil, &flow.ParamError{Key: "columns", Err: err}
	}
	return s, nil
}

// targetSchema unifies the file schemas and applies the projection.
func (r *reader) targetSchema(schemas []*arrow.Schema) (*arrow.Schema, error) {
	all := batch.Unify(schemas...)
	if len(r.columns) == 0 && r.hint != nil && all.NumFields() > 0 {
		// Only the columns the pipeline uses, in file order; at least one
		// (row counts need a column).
		var fields []arrow.Field
		for _, f := range all.Fields() {
			if slices.Contains(r.hint, f.Name) {
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			fields = all.Fields()[:1]
		}
		return arrow.NewSchema(fields, nil), nil
	}
	if len(r.columns) == 0 {
		return all, nil
	}
	names := make([]string, all.NumFields())
	for i, f := range all.Fields() {
		names[i] = f.Name
	}
	fields := make([]arrow.Field, 0, len(r.columns))
	for _, c := range r.columns {
		idx := all.FieldIndices(c)
		if len(idx) == 0 {
			msg := fmt.Sprintf("parquet.read: column %q not found", c)
			if n := flow.Nearest(c, names); n != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", n)
			} else {
				msg += fmt.Sprintf(" (columns: %s)", strings.Join(names, ", "))
			}
			return nil, fmt.Errorf("%s", msg)
		}
		fields = append(fields, all.Field(idx[0]))
	}
	return arrow.NewSchema(fields, nil), nil
}

func (r *reader) readFile(ctx context.Context, st *flow.Stage, path string, schema, target *arrow.Schema) error {
	of, err := r.open(st, path)
	if err != nil {
		return err
	}
	defer of.rdr.Close()
	// Leaf columns of the top-level fields wanted that this file has.
	var leaves []int
	for i, f := range schema.Fields() {
		if len(target.FieldIndices(f.Name)) == 0 {
			continue
		}
		leaves = appendLeaves(leaves, &of.fr.Manifest.Fields[i])
	}
	if len(leaves) == 0 {
		// None of the wanted columns: emit null rows, as many as the file has.
		return r.emitNulls(ctx, st, of.rdr.NumRows(), target)
	}
	rr, err := of.fr.GetRecordReader(ctx, leaves, nil)
	if err != nil {
		return fmt.Errorf("parquet.read: %s: %w", path, err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		out, err := batch.Project(st.Alloc, rec, target)
		if err != nil {
			return fmt.Errorf("parquet.read: %s: %w", path, err)
		}
		if err := st.Emit(ctx, out); err != nil {
			return err
		}
		select {
		case <-st.Draining():
			return errDrained
		default:
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("parquet.read: %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil {
		st.Metrics().BytesRead.Add(fi.Size())
	}
	return nil
}

func (r *reader) emitNulls(ctx context.Context, st *flow.Stage, rows int64, target *arrow.Schema) error {
	empty := arrow.NewSchema(nil, nil)
	for done := int64(0); done < rows; done += int64(r.batchSize) {
		n := min(int64(r.batchSize), rows-done)
		rec := emptyBatch(empty, n)
		out, err := batch.Project(st.Alloc, rec, target)
		rec.Release()
		if err != nil {
			return err
		}
		if err := st.Emit(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

func appendLeaves(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = appendLeaves(dst, &f.Children[i])
	}
	return dst
}
