package parquet

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// DefaultRowGroupSize is parquet.write's default rows per row group.
const DefaultRowGroupSize = 1 << 20

// MaxPartitions bounds the partitions one parquet.write may hold open: each
// holds a buffered row group in memory.
const MaxPartitions = 1024

// HiveNull is the folder value of a null partition key (as Hive and Spark
// write it).
const HiveNull = "__HIVE_DEFAULT_PARTITION__"

// writer is the parquet.write sink.
//
// Without partition_by, path is the target file. With partition_by, path
// is a root folder and each distinct combination of the partition columns'
// values goes to root/col=value/.../part-0.parquet, without the partition
// columns themselves. Every file is written atomically (temporary name,
// renamed by Close; Abort removes them all). A file's schema is that of
// the first batch it receives; later batches are projected onto it.
type writer struct {
	path  string
	codec compress.Compression
	// compatible restricts encodings to dictionary and plain.
	compatible bool
	rowGroup   int64
	partition  []string
	mem        memory.Allocator

	single *partFile
	parts  map[string]*partFile
	order  []string
}

type partFile struct {
	af     *fileio.AtomicFile
	fw     fileWriter
	schema *arrow.Schema
}

// fileWriter is colWriter for flat schemas, pqWriter for the others.
type fileWriter interface {
	write(ctx context.Context, b arrow.RecordBatch) error
	Close() error
}

// pqWriter writes any schema one column after the other.
type pqWriter struct{ fw *pqarrow.FileWriter }

func (p pqWriter) write(_ context.Context, b arrow.RecordBatch) error { return p.fw.WriteBuffered(b) }
func (p pqWriter) Close() error                                       { return p.fw.Close() }

func parseCodec(s string) (compress.Compression, error) {
	switch s {
	case "", "zstd":
		return compress.Codecs.Zstd, nil
	case "snappy":
		return compress.Codecs.Snappy, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("compression %q: use zstd, snappy or none", s)
}

func newWriter(cfg flow.Config, env flow.BuildEnv) (any, error) {
	codec, err := parseCodec(cfg.Str("compression"))
	if err != nil {
		return nil, err
	}
	rg := int64(cfg.Int("row_group_size"))
	if rg <= 0 {
		rg = DefaultRowGroupSize
	}
	return &writer{path: env.Path(cfg.Str("path")), codec: codec, rowGroup: rg,
		partition: cfg.Strings("partition_by"), compatible: cfg.Str("encoding") == "compatible", mem: env.Alloc, parts: map[string]*partFile{}}, nil
}

func (w *writer) create(path string, first arrow.RecordBatch) (*partFile, error) {
	schema := first.Schema()
	af, err := fileio.Create(path, fileio.None)
	if err != nil {
		return nil, fmt.Errorf("parquet.write: %w", err)
	}
	wprops := []pq.WriterProperty{pq.WithCompression(w.codec), pq.WithMaxRowGroupLength(w.rowGroup), pq.WithAllocator(w.mem)}
	if !w.compatible {
		wprops = append(wprops, encodingProps(first)...)
	}
	props := pq.NewWriterProperties(wprops...)
	arrProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(w.mem))
	var fw fileWriter
	if isFlat(schema) {
		fw, err = newColWriter(af, schema, props, arrProps)
	} else {
		var pw *pqarrow.FileWriter
		pw, err = pqarrow.NewFileWriter(schema, af, props, arrProps)
		fw = pqWriter{pw}
	}
	if err != nil {
		af.Abort()
		return nil, fmt.Errorf("parquet.write: %s: %w", path, err)
	}
	return &partFile{af: af, fw: fw, schema: schema}, nil
}

func (p *partFile) write(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch) error {
	if !b.Schema().Equal(p.schema) {
		pb, err := batch.Project(mem, b, p.schema)
		if err != nil {
			return fmt.Errorf("batch does not fit the file's schema: %w", err)
		}
		defer pb.Release()
		b = pb
	}
	return p.fw.write(ctx, b)
}

// Write appends b's rows (b is borrowed).
func (w *writer) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if len(w.partition) == 0 {
		if w.single == nil {
			pf, err := w.create(w.path, b)
			if err != nil {
				return err
			}
			w.single = pf
		}
		if err := w.single.write(ctx, w.mem, b); err != nil {
			return fmt.Errorf("parquet.write: %s: %w", w.path, err)
		}
		return nil
	}
	return w.writePartitioned(ctx, b)
}

func (w *writer) writePartitioned(ctx context.Context, b arrow.RecordBatch) error {
	keyCols := make([]arrow.Array, len(w.partition))
	for i, name := range w.partition {
		idx := b.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return fmt.Errorf("parquet.write: partition column %q is not in the input", name)
		}
		keyCols[i] = b.Column(idx[0])
	}
	// Data columns: everything but the partition columns.
	var (
		fields []arrow.Field
		cols   []arrow.Array
	)
	for i, f := range b.Schema().Fields() {
		if !contains(w.partition, f.Name) {
			fields = append(fields, f)
			cols = append(cols, b.Column(i))
		}
	}
	data := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
	defer data.Release()

	// Group row indices by partition folder, in order of first appearance.
	groups := map[string][]int64{}
	var order []string
	for i := 0; i < int(b.NumRows()); i++ {
		var sb strings.Builder
		for c, name := range w.partition {
			if c > 0 {
				sb.WriteByte('/')
			}
			sb.WriteString(escape(name))
			sb.WriteByte('=')
			if keyCols[c].IsNull(i) {
				sb.WriteString(HiveNull)
			} else {
				sb.WriteString(escape(batch.FormatValue(keyCols[c], i)))
			}
		}
		k := sb.String()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], int64(i))
	}
	for _, k := range order {
		pf, err := w.partFile(k, data)
		if err != nil {
			return err
		}
		rows := groups[k]
		if len(order) == 1 {
			err = pf.write(ctx, w.mem, data)
		} else {
			err = w.writeRows(ctx, pf, data, rows)
		}
		if err != nil {
			return fmt.Errorf("parquet.write: partition %s: %w", k, err)
		}
	}
	return nil
}

func (w *writer) writeRows(ctx context.Context, pf *partFile, data arrow.RecordBatch, rows []int64) error {
	ib := array.NewInt64Builder(w.mem)
	ib.AppendValues(rows, nil)
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	cols := make([]arrow.Array, data.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	cctx := compute.WithAllocator(ctx, w.mem)
	for i := range cols {
		c, err := compute.TakeArray(cctx, data.Column(i), idx)
		if err != nil {
			return err
		}
		cols[i] = c
	}
	sub := array.NewRecordBatch(data.Schema(), cols, int64(len(rows)))
	defer sub.Release()
	return pf.write(ctx, w.mem, sub)
}

func (w *writer) partFile(key string, first arrow.RecordBatch) (*partFile, error) {
	if pf, ok := w.parts[key]; ok {
		return pf, nil
	}
	if len(w.parts) >= MaxPartitions {
		return nil, fmt.Errorf("parquet.write: more than %d partitions; partition by a column with fewer distinct values", MaxPartitions)
	}
	pf, err := w.create(filepath.Join(w.path, filepath.FromSlash(key), "part-0.parquet"), first)
	if err != nil {
		return nil, err
	}
	w.parts[key] = pf
	w.order = append(w.order, key)
	return pf, nil
}

// Close finishes every file and renames it onto its target. When one
// fails, the files not yet renamed are discarded (those already renamed
// stay).
func (w *writer) Close(ctx context.Context, st *flow.Stage) error {
	files := w.files()
	if len(files) == 0 {
		st.Logger.Warn("parquet.write received no rows; no file written", "path", w.path)
		return nil
	}
	for i, pf := range files {
		err := pf.fw.Close()
		if err == nil {
			err = pf.af.Commit()
		} else {
			pf.af.Abort()
		}
		if err != nil {
			for _, rest := range files[i+1:] {
				rest.fw.Close()
				rest.af.Abort()
			}
			w.single, w.parts, w.order = nil, map[string]*partFile{}, nil
			return fmt.Errorf("parquet.write: committing %s: %w", pf.af.Target(), err)
		}
	}
	w.single, w.parts, w.order = nil, map[string]*partFile{}, nil
	return nil
}

// Abort discards every temporary file; no target is touched.
func (w *writer) Abort() {
	for _, pf := range w.files() {
		pf.fw.Close()
		pf.af.Abort()
	}
	w.single, w.parts, w.order = nil, map[string]*partFile{}, nil
}

func (w *writer) files() []*partFile {
	if w.single != nil {
		return []*partFile{w.single}
	}
	out := make([]*partFile, 0, len(w.order))
	for _, k := range w.order {
		out = append(out, w.parts[k])
	}
	return out
}

// escape makes a partition name or value safe as one path element, as
// Hive does: control characters and "#%'*/:=?\\[]^{} are percent-encoded;
// an empty value becomes HiveNull.
func escape(s string) string {
	if s == "" {
		return HiveNull
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte("\"#%'*/:=?\\[]^{}", c) >= 0 {
			fmt.Fprintf(&sb, "%%%02X", c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
