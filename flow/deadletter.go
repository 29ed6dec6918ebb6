package flow

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrorSchema is the schema of batches on a stage's errors port: one row
// per rejected row, with the reason and where it came from. `row` holds the
// rejected row as a JSON object when it could be decoded, `raw` its text
// otherwise.
var ErrorSchema = arrow.NewSchema([]arrow.Field{
	{Name: "time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "stage", Type: arrow.BinaryTypes.String},
	{Name: "source", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "error", Type: arrow.BinaryTypes.String},
	{Name: "row", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "raw", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func rejectionsBatch(mem memory.Allocator, stage string, rs []Rejection, now time.Time) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, ErrorSchema)
	defer b.Release()
	ts := arrow.Timestamp(now.UnixMilli())
	for _, r := range rs {
		b.Field(0).(*array.TimestampBuilder).Append(ts)
		b.Field(1).(*array.StringBuilder).Append(stage)
		appendOpt(b.Field(2).(*array.StringBuilder), r.Source)
		b.Field(3).(*array.StringBuilder).Append(errText(r.Err))
		if r.Row != nil {
			js, _ := json.Marshal(r.Row)
			b.Field(4).(*array.StringBuilder).Append(string(js))
		} else {
			b.Field(4).AppendNull()
		}
		appendOpt(b.Field(5).(*array.StringBuilder), r.Raw)
	}
	return b.NewRecordBatch()
}

func appendOpt(b *array.StringBuilder, s string) {
	if s == "" {
		b.AppendNull()
	} else {
		b.Append(s)
	}
}

func errText(err error) string {
	if err == nil {
		return "rejected"
	}
	return err.Error()
}

// DeadLetterRecord is one line of the dead-letter output (NDJSON).
type DeadLetterRecord struct {
	Time   time.Time       `json:"time"`
	Stage  string          `json:"stage"`
	Port   string          `json:"port,omitempty"`
	Source string          `json:"source,omitempty"`
	Error  string          `json:"error"`
	Row    json.RawMessage `json:"row,omitempty"`
	Raw    string          `json:"raw,omitempty"`
}

// deadLetter writes rejected rows as NDJSON to a file, or logs them when no
// dead-letter output is configured. It is safe for concurrent use.
type deadLetter struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	w      *bufio.Writer
	logger *slog.Logger
	count  atomic.Int64
	err    error
}

// openDeadLetter prepares the dead-letter output. path may name a file or a
// directory (ending in "/" or existing as one), in which case the file is
// <dir>/<pipeline>.dead-letter.ndjson. The file is opened lazily, on the
// first record, and appended to. An empty path logs records instead.
func openDeadLetter(path, pipeline string, logger *slog.Logger) *deadLetter {
	if path != "" {
		if st, err := os.Stat(path); strings.HasSuffix(path, "/") || (err == nil && st.IsDir()) {
			name := pipeline
			if name == "" {
				name = "pipeline"
			}
			path = filepath.Join(path, name+".dead-letter.ndjson")
		}
	}
	return &deadLetter{path: path, logger: logger}
}

func (d *deadLetter) write(rec DeadLetterRecord) {
	d.count.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.path == "" {
		attrs := []any{"stage", rec.Stage, "error", rec.Error}
		if rec.Port != "" {
			attrs = append(attrs, "port", rec.Port)
		}
		if rec.Source != "" {
			attrs = append(attrs, "source", rec.Source)
		}
		if rec.Row != nil {
			attrs = append(attrs, "row", string(rec.Row))
		} else if rec.Raw != "" {
			attrs = append(attrs, "raw", rec.Raw)
		}
		d.logger.Warn("dead letter", attrs...)
		return
	}
	if d.f == nil && d.err == nil {
		if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
			d.err = err
		} else if f, err := os.OpenFile(d.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			d.err = err
		} else {
			d.f, d.w = f, bufio.NewWriter(f)
		}
		if d.err != nil {
			d.logger.Error("cannot open dead-letter output; logging records instead", "path", d.path, "error", d.err)
		}
	}
	js, _ := json.Marshal(rec)
	if d.w == nil {
		d.logger.Warn("dead letter", "record", string(js))
		return
	}
	d.w.Write(js)
	d.w.WriteByte('\n')
}

func (d *deadLetter) writeRejection(stage string, r Rejection, now time.Time) {
	rec := DeadLetterRecord{Time: now.UTC(), Stage: stage, Source: r.Source, Error: errText(r.Err), Raw: r.Raw}
	if r.Row != nil {
		rec.Row, _ = json.Marshal(r.Row)
	}
	d.write(rec)
}

// writeBatch writes every row of a batch sent on an unconsumed side output.
// Batches from an errors port already carry their reason per row.
func (d *deadLetter) writeBatch(stage, port string, b arrow.RecordBatch, now time.Time) {
	js, err := b.MarshalJSON()
	var rows []json.RawMessage
	if err == nil {
		err = json.Unmarshal(js, &rows)
	}
	if err != nil {
		d.write(DeadLetterRecord{Time: now.UTC(), Stage: stage, Port: port, Error: "unencodable batch: " + err.Error()})
		return
	}
	for _, row := range rows {
		d.write(DeadLetterRecord{Time: now.UTC(), Stage: stage, Port: port, Error: port, Row: row})
	}
}

// Count is the number of records written so far.
func (d *deadLetter) Count() int64 { return d.count.Load() }

// Close flushes and closes the file.
func (d *deadLetter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return d.err
	}
	err := d.w.Flush()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.f = nil
	return err
}

// rowsOf decodes a batch into one map per row (through Arrow's JSON
// encoding, so every type renders as it does in JSON output).
func rowsOf(b arrow.RecordBatch) ([]map[string]any, error) {
	js, err := b.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var rows []map[string]any
	if err := json.Unmarshal(js, &rows); err != nil {
		return nil, err
	}
	return rows, nil
}
