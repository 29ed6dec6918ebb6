package stdio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
)

// tableChunkRows is how many rows the table format holds before printing
// them: each chunk is aligned on its own (column widths only grow).
const tableChunkRows = 1000

// encoder is what each output format implements.
type encoder interface {
	Write(b arrow.RecordBatch) error
	Close() error
}

// writer is the stdout.write sink. Output is buffered and flushed by Close
// (and by Abort, which prints what was already formatted).
type writer struct {
	out   *bufio.Writer
	enc   encoder
	limit int64
	rows  int64
}

func newWriter(cfg flow.Config, out io.Writer) (*writer, error) {
	w := &writer{out: bufio.NewWriterSize(out, 64<<10), limit: int64(cfg.Int("limit"))}
	switch cfg.Str("format") {
	case "json":
		w.enc = jsonfile.NewEncoder(w.out, jsonfile.FormatRecords, false)
	case "jsonl", "ndjson":
		w.enc = jsonfile.NewEncoder(w.out, jsonfile.FormatJSONL, false)
	case "csv":
		w.enc = csvEncoder{csvconn.NewEncoder(w.out, csvconn.WriteOptions{Header: true, Delimiter: ','})}
	case "", "table":
		w.enc = &tableEncoder{w: w.out}
	default:
		return nil, fmt.Errorf("stdout.write: unknown format %q", cfg.Str("format"))
	}
	return w, nil
}

type csvEncoder struct{ e *csvconn.Encoder }

func (c csvEncoder) Write(b arrow.RecordBatch) error { return c.e.Write(b) }
func (c csvEncoder) Close() error                    { return c.e.Flush() }

// Write prints b's rows up to the limit (b is borrowed).
func (w *writer) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	n := b.NumRows()
	if w.limit > 0 {
		n = min(n, w.limit-w.rows)
		if n <= 0 {
			return nil
		}
	}
	if n < b.NumRows() {
		s := b.NewSlice(0, n)
		defer s.Release()
		b = s
	}
	w.rows += n
	if err := w.enc.Write(b); err != nil {
		return fmt.Errorf("stdout.write: %w", err)
	}
	return nil
}

// Close ends the output (closing bracket, table footer) and flushes it.
func (w *writer) Close(ctx context.Context, st *flow.Stage) error {
	if err := w.enc.Close(); err != nil {
		return fmt.Errorf("stdout.write: %w", err)
	}
	if err := w.out.Flush(); err != nil {
		return fmt.Errorf("stdout.write: %w", err)
	}
	return nil
}

// Abort flushes what was already formatted; nothing can be taken back from
// a terminal or pipe.
func (w *writer) Abort() { w.out.Flush() }

// tableEncoder prints an aligned text table in chunks of tableChunkRows.
type tableEncoder struct {
	w       *bufio.Writer
	schema  *arrow.Schema
	header  []string
	right   []bool
	widths  []int
	pending [][]string
	printed bool // header printed for the current schema
	rows    int
}

func (t *tableEncoder) Write(b arrow.RecordBatch) error {
	if t.schema == nil || !t.schema.Equal(b.Schema()) {
		if err := t.flush(); err != nil {
			return err
		}
		if t.schema != nil {
			t.w.WriteByte('\n')
		}
		t.setSchema(b.Schema())
	}
	cols := b.Columns()
	for i := 0; i < int(b.NumRows()); i++ {
		row := make([]string, len(cols))
		for c, col := range cols {
			row[c] = cellText(batch.FormatValue(col, i))
		}
		t.pending = append(t.pending, row)
		t.rows++
		if len(t.pending) >= tableChunkRows {
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *tableEncoder) setSchema(s *arrow.Schema) {
	t.schema, t.printed = s, false
	t.header = make([]string, s.NumFields())
	t.right = make([]bool, s.NumFields())
	t.widths = make([]int, s.NumFields())
	for i, f := range s.Fields() {
		t.header[i] = cellText(f.Name)
		t.widths[i] = utf8.RuneCountInString(t.header[i])
		switch id := f.Type.ID(); id {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
			arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
			t.right[i] = true
		}
	}
}

// cellText keeps a cell on one line.
func cellText(s string) string {
	if strings.ContainsAny(s, "\n\r\t") {
		s = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
	}
	return s
}

func (t *tableEncoder) flush() error {
	if t.schema == nil {
		return nil
	}
	for _, row := range t.pending {
		for c, v := range row {
			t.widths[c] = max(t.widths[c], utf8.RuneCountInString(v))
		}
	}
	if !t.printed {
		t.printed = true
		t.line(t.header, false)
		rule := make([]string, len(t.widths))
		for c, w := range t.widths {
			rule[c] = strings.Repeat("-", w)
		}
		t.line(rule, false)
	}
	for _, row := range t.pending {
		t.line(row, true)
	}
	t.pending = t.pending[:0]
	return nil
}

func (t *tableEncoder) line(cells []string, align bool) {
	for c, v := range cells {
		pad := t.widths[c] - utf8.RuneCountInString(v)
		last := c == len(cells)-1
		if c > 0 {
			t.w.WriteString("  ")
		}
		if align && t.right[c] {
			t.w.WriteString(strings.Repeat(" ", pad))
			t.w.WriteString(v)
		} else {
			t.w.WriteString(v)
			if !last {
				t.w.WriteString(strings.Repeat(" ", pad))
			}
		}
	}
	t.w.WriteByte('\n')
}

func (t *tableEncoder) Close() error {
	if err := t.flush(); err != nil {
		return err
	}
	if t.rows == 1 {
		t.w.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(t.w, "(%d rows)\n", t.rows)
	}
	return nil
}
