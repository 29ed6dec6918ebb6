package parquet

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"golang.org/x/sync/errgroup"
)

// colWriter writes a flat schema (see isFlat) with every column of a
// batch encoded and compressed on its own goroutine (at most GOMAXPROCS at
// once), into a buffered row group where each column has its own column
// chunk writer (pages, compressor, statistics, metadata builder). The file
// is what pqarrow.FileWriter writes: same Parquet schema, the Arrow schema
// stored under ARROW:schema.
type colWriter struct {
	fw       *file.Writer
	rgw      file.BufferedRowGroupWriter
	rows     int64 // rows in rgw
	maxRows  int64
	workers  int
	nullable []bool
	ctxs     []context.Context // per column: pqarrow's reusable scratch
	defs     [][]int16         // per column: definition levels scratch
}

// isFlat reports whether every field of s maps to one Parquet leaf column
// that colWriter can write: no nested, dictionary or extension types.
func isFlat(s *arrow.Schema) bool {
	for _, f := range s.Fields() {
		switch f.Type.ID() {
		case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64,
			arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
			arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64:
		default:
			return false
		}
	}
	return true
}

func newColWriter(w io.Writer, schema *arrow.Schema, props *pq.WriterProperties, arrProps pqarrow.ArrowWriterProperties) (*colWriter, error) {
	pqSchema, err := pqarrow.ToParquet(schema, props, arrProps)
	if err != nil {
		return nil, err
	}
	meta := make(metadata.KeyValueMetadata, 0, schema.Metadata().Len()+1)
	for i, k := range schema.Metadata().Keys() {
		meta.Append(k, schema.Metadata().Values()[i])
	}
	// As pqarrow.WithStoreSchema does (a flat schema needs none of its
	// list-name normalisation).
	meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(schema, props.Allocator())))
	fw, err := file.NewParquetWriterWithError(w, pqSchema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(meta))
	if err != nil {
		return nil, err
	}
	n := schema.NumFields()
	c := &colWriter{fw: fw, maxRows: props.MaxRowGroupLength(), workers: min(runtime.GOMAXPROCS(0), n),
		nullable: make([]bool, n), ctxs: make([]context.Context, n), defs: make([][]int16, n)}
	for i, f := range schema.Fields() {
		c.nullable[i] = f.Nullable
		c.ctxs[i] = pqarrow.NewArrowWriteContext(context.Background(), &arrProps)
	}
	return c, nil
}

// write appends b's rows, starting a new row group whenever the current
// one holds maxRows. Every goroutine it starts has ended when it returns.
func (c *colWriter) write(ctx context.Context, b arrow.RecordBatch) error {
	n := b.NumRows()
	for off := int64(0); off < n; {
		if c.rgw == nil || c.rows >= c.maxRows {
			if err := c.closeRowGroup(); err != nil {
				return err
			}
			rgw, err := c.fw.AppendBufferedRowGroupChecked()
			if err != nil {
				return err
			}
			c.rgw, c.rows = rgw, 0
		}
		size := min(c.maxRows-c.rows, n-off)
		if err := c.writeRange(ctx, b, off, size); err != nil {
			return err
		}
		c.rows += size
		off += size
	}
	return nil
}

func (c *colWriter) writeRange(ctx context.Context, b arrow.RecordBatch, off, size int64) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.workers)
	for i := 0; i < int(b.NumCols()); i++ {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return c.writeColumn(i, b.Column(i), off, size)
		})
	}
	return g.Wait()
}

func (c *colWriter) writeColumn(i int, col arrow.Array, off, size int64) error {
	cw, err := c.rgw.Column(i)
	if err != nil {
		return err
	}
	a := col
	if off != 0 || size != int64(col.Len()) {
		a = array.NewSlice(col, off, off+size)
		defer a.Release()
	}
	var defs []int16
	if c.nullable[i] {
		if cap(c.defs[i]) < a.Len() {
			c.defs[i] = make([]int16, a.Len())
		}
		defs = c.defs[i][:a.Len()]
		if a.NullN() == 0 {
			for j := range defs {
				defs[j] = 1
			}
		} else {
			for j := range defs {
				if a.IsValid(j) {
					defs[j] = 1
				} else {
					defs[j] = 0
				}
			}
		}
	} else if a.NullN() > 0 {
		return fmt.Errorf("column %d is not nullable but holds %d nulls", i, a.NullN())
	}
	return pqarrow.WriteArrowToColumn(c.ctxs[i], cw, a, defs, nil, c.nullable[i])
}

func (c *colWriter) closeRowGroup() error {
	if c.rgw == nil {
		return nil
	}
	err := c.rgw.Close()
	c.rgw = nil
	return err
}

// Close finishes the last row group and the file footer.
func (c *colWriter) Close() error {
	err := c.closeRowGroup()
	if cerr := c.fw.Close(); err == nil {
		err = cerr
	}
	return err
}
