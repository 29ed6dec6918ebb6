package jsonfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// fileWriter is the json.write sink. The target is written atomically:
// rows go to a temporary file beside it, renamed onto it by Close; Abort
// removes the temporary file. The file is created on the first Write (or
// by Close for an empty input, which yields "[]" or an empty file).
type fileWriter struct {
	path        string
	compression string
	enc         *Encoder
	f           *fileio.AtomicFile
	format      string
	pretty      bool
}

func newFileWriter(cfg flow.Config, env flow.BuildEnv) (any, error) {
	path := env.Path(cfg.Str("path"))
	format := normFormat(cfg.Str("format"))
	if format == FormatAuto {
		format = formatForPath(path)
	}
	if _, err := fileio.Resolve(cfg.Str("compression"), path); err != nil {
		return nil, err
	}
	return &fileWriter{path: path, compression: cfg.Str("compression"), format: format, pretty: cfg.Bool("pretty")}, nil
}

func (w *fileWriter) open() error {
	if w.f != nil {
		return nil
	}
	codec, err := fileio.Resolve(w.compression, w.path)
	if err != nil {
		return err
	}
	f, err := fileio.Create(w.path, codec)
	if err != nil {
		return fmt.Errorf("json.write: %w", err)
	}
	w.f = f
	w.enc = NewEncoder(f, w.format, w.pretty)
	return nil
}

// Write appends b's rows (b is borrowed).
func (w *fileWriter) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if err := w.open(); err != nil {
		return err
	}
	if err := w.enc.Write(b); err != nil {
		return fmt.Errorf("json.write: writing %s: %w", w.path, err)
	}
	return nil
}

// Close finishes the document and renames the file onto the target.
func (w *fileWriter) Close(ctx context.Context, st *flow.Stage) error {
	if err := w.open(); err != nil {
		return err
	}
	if err := w.enc.Close(); err != nil {
		w.f.Abort()
		return fmt.Errorf("json.write: writing %s: %w", w.path, err)
	}
	if err := w.f.Commit(); err != nil {
		return fmt.Errorf("json.write: committing %s: %w", w.path, err)
	}
	return nil
}

// Abort discards the temporary file; the target is left untouched.
func (w *fileWriter) Abort() {
	if w.f != nil {
		w.f.Abort()
	}
}

// Encoder writes batches as JSON: FormatRecords (one top-level array,
// "[]" when empty) or FormatJSONL (one object per line). Keys follow the
// schema's column order; values are encoded as batch.AppendRowJSON does
// (timestamps as RFC 3339 strings). With pretty, records are indented by
// two spaces (jsonl ignores pretty: a record must stay on one line). It
// buffers; Close writes the end of the document and flushes, but does not
// close w. It is not safe for concurrent use.
type Encoder struct {
	w      *bufio.Writer
	format string
	pretty bool
	rows   int
	buf    []byte
	ind    bytes.Buffer
}

// NewEncoder returns an Encoder writing to w in format (FormatRecords or
// FormatJSONL; FormatNDJSON is accepted).
func NewEncoder(w io.Writer, format string, pretty bool) *Encoder {
	return &Encoder{w: bufio.NewWriterSize(w, 64<<10), format: normFormat(format), pretty: pretty}
}

// Write encodes every row of b (borrowed).
func (e *Encoder) Write(b arrow.RecordBatch) error {
	for i := 0; i < int(b.NumRows()); i++ {
		e.buf = batch.AppendRowJSON(e.buf[:0], b, i)
		if err := e.writeRow(e.buf); err != nil {
			return err
		}
	}
	return nil
}

func (e *Encoder) writeRow(row []byte) error {
	if e.format == FormatJSONL {
		e.rows++
		e.w.Write(row)
		return e.w.WriteByte('\n')
	}
	if e.rows == 0 {
		e.w.WriteString("[\n")
	} else {
		e.w.WriteString(",\n")
	}
	e.rows++
	if e.pretty {
		e.ind.Reset()
		if err := json.Indent(&e.ind, row, "  ", "  "); err != nil {
			return err
		}
		e.w.WriteString("  ")
		_, err := e.w.Write(e.ind.Bytes())
		return err
	}
	_, err := e.w.Write(row)
	return err
}

// Flush writes what is buffered (a streaming sink calls it after each
// batch; with FormatRecords the document stays open).
func (e *Encoder) Flush() error { return e.w.Flush() }

// Close ends the document and flushes.
func (e *Encoder) Close() error {
	if e.format != FormatJSONL {
		if e.rows == 0 {
			e.w.WriteString("[]\n")
		} else {
			e.w.WriteString("\n]\n")
		}
	}
	return e.w.Flush()
}
