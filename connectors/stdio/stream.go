package stdio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/internal/linesource"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
)

// StreamSpec is the spec of stdin.stream reading from in.
func StreamSpec(in io.Reader) *flow.Spec {
	return &flow.Spec{
		Name: "stdin.stream", Kind: flow.KindSource,
		Summary: "Read JSON lines, CSV or raw lines from standard input as they arrive, in micro-batches",
		Description: "A live source for `conveyor stream`: lines are handed on in batches of batch_size rows, or linger after " +
			"the first row of a batch arrived, whichever comes first, so rows piped in slowly still reach the pipeline " +
			"promptly. The schema is inferred from the first batch (or fixed by schema) and kept for the whole stream: a later " +
			"line with an unknown key or a value of another type is rejected with its location (stdin:line), never trimmed. " +
			"At the end of input the stream ends like a bounded job (every window emitted, exit 0); when the pipeline " +
			"drains, what was read is handed on and reading stops. A CSV record must fit on one line; a line longer " +
			"than 64 MiB fails the stage.\n\n" +
			"In examples, Input is what standard input holds.",
		Tags: []string{"stdio", "stream"},
		Params: append(linesource.Params(),
			flow.Param{Name: "quote", Type: flow.TypeString, Default: `"`, Doc: `csv: quote character; "" disables quoting.`},
			flow.Param{Name: "comment", Type: flow.TypeString, Doc: "csv: lines starting with this character are skipped."},
		),
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			c, err := linesource.ParseConfig(cfg, env)
			if err != nil {
				return nil, err
			}
			return &streamReader{in: in, cfg: c}, nil
		},
		Examples: []flow.Example{
			{
				Title:  "JSON lines as they arrive",
				Config: "format = \"jsonl\"\nlinger = \"50ms\"",
				Input:  `{"id": 1, "msg": "hello"}` + "\n" + `{"id": 2, "msg": "world"}` + "\n",
				Output: `{"id":1,"msg":"hello"}` + "\n" + `{"id":2,"msg":"world"}` + "\n",
			},
			{
				Title:  "CSV lines",
				Config: `format = "csv"`,
				Input:  "id,temp\n1,20.5\n2,21\n",
				Output: `{"id":1,"temp":20.5}` + "\n" + `{"id":2,"temp":21}` + "\n",
			},
		},
	}
}

// streamReader is the stdin.stream operator.
type streamReader struct {
	in  io.Reader
	cfg linesource.Config
}

func (r *streamReader) Run(ctx context.Context, st *flow.Stage) error {
	lines := make(chan linesource.Line, 1024)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go readLines(rctx, r.in, lines, st, maxLineBytes)
	return linesource.Run(ctx, st, r.cfg, sourceName, lines)
}

// maxLineBytes bounds a line of stdin.stream, and so the memory input
// without newlines can take. A variable so that tests can lower it.
var maxLineBytes = 64 << 20

// readLines sends every line of in (copied) until its end or ctx ends. A
// read blocked on a terminal or pipe is not interrupted: the goroutine
// ends when the read returns. A line longer than maxLine bytes ends the
// input with an error.
func readLines(ctx context.Context, in io.Reader, out chan<- linesource.Line, st *flow.Stage, maxLine int) {
	defer close(out)
	br := bufio.NewReaderSize(in, 64<<10)
	var line []byte
	n := 0 // lines sent
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			err = fmt.Errorf("line %d is longer than %d bytes (not a text stream?)", n+1, maxLine)
			select {
			case out <- linesource.Line{Err: err}:
			case <-ctx.Done():
			}
			return
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			st.Metrics().BytesRead.Add(int64(len(line)))
			select {
			case out <- linesource.Line{Data: line}:
			case <-ctx.Done():
				return
			}
			line = nil
			n++
		}
		if err != nil {
			if err != io.EOF {
				select {
				case out <- linesource.Line{Err: err}:
				case <-ctx.Done():
				}
			}
			return
		}
	}
}

// StreamWriteSpec is the spec of stdout.stream writing to out.
func StreamWriteSpec(out io.Writer) *flow.Spec {
	return &flow.Spec{
		Name: "stdout.stream", Kind: flow.KindSink,
		Summary: "Write rows to standard output as JSON lines, JSON, CSV or a table, flushed after every batch",
		Description: "The streaming counterpart of stdout.write: each batch is written and flushed as soon as it arrives, so " +
			"a reader of the pipe (another program, a terminal) sees the rows of a stream without waiting for its end. " +
			"Timestamps are written in RFC 3339. jsonl writes one object per line; json one array, opened before the first " +
			"row and closed when the stream ends; csv a header once, before the first row; table an aligned table whose " +
			"header is printed once (again when the columns change), each batch aligned as it comes (widths only grow), " +
			"and a count of the rows at the end.\n\n" +
			"In examples, Output is what is printed.",
		Tags: []string{"stdio", "stream"},
		Params: []flow.Param{
			{Name: "format", Type: flow.TypeString, Default: "jsonl", Allowed: []string{"jsonl", "ndjson", "json", "csv", "table"},
				Doc: "jsonl/ndjson: one JSON object per line; json: one JSON array; csv: a header, then comma-separated rows; table: aligned text."},
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			w := &streamWriter{out: bufio.NewWriterSize(out, 64<<10)}
			switch cfg.Str("format") {
			case "csv":
				w.enc = streamCSV{csvconn.NewEncoder(w.out, csvconn.WriteOptions{Header: true, Delimiter: ','})}
			case "json":
				w.enc = jsonfile.NewEncoder(w.out, jsonfile.FormatRecords, false)
			case "table":
				w.enc = streamTable{&tableEncoder{w: w.out}}
			default:
				w.enc = jsonfile.NewEncoder(w.out, jsonfile.FormatJSONL, false)
			}
			return w, nil
		},
		Examples: []flow.Example{
			{
				Title:  "Rows as JSON lines",
				Config: `format = "jsonl"`,
				Input:  `{"id":1,"ts":"2024-05-01T10:00:00Z"}` + "\n",
				Output: `{"id":1,"ts":"2024-05-01T10:00:00Z"}` + "\n",
			},
			{
				Title:  "Rows as CSV",
				Config: `format = "csv"`,
				Input:  `{"id":1,"name":"ana"}` + "\n" + `{"id":2,"name":"bo"}` + "\n",
				Output: "id,name\n1,ana\n2,bo\n",
			},
			{
				Title:  "Rows as a table",
				Config: `format = "table"`,
				Input:  `{"id":1,"name":"ana"}` + "\n" + `{"id":20,"name":"bo"}` + "\n",
				Output: "id  name\n--  ----\n 1  ana\n20  bo\n(2 rows)\n",
			},
		},
	}
}

// streamEncoder is an output format of stdout.stream.
type streamEncoder interface {
	Write(b arrow.RecordBatch) error
	Flush() error // hands what was written on to the underlying writer
	Close() error // ends the document and flushes
}

type streamCSV struct{ *csvconn.Encoder }

func (c streamCSV) Close() error { return c.Flush() }

type streamTable struct{ *tableEncoder }

func (t streamTable) Flush() error { return t.flush() }

// streamWriter is the stdout.stream sink.
type streamWriter struct {
	out *bufio.Writer
	enc streamEncoder
}

// Write writes b's rows and flushes them through to the output.
func (w *streamWriter) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	err := w.enc.Write(b)
	if err == nil {
		err = w.enc.Flush()
	}
	if err == nil {
		err = w.out.Flush()
	}
	if err != nil {
		return fmt.Errorf("stdout.stream: %w", err)
	}
	return nil
}

// Close ends the output (the json array's bracket, the table's count).
func (w *streamWriter) Close(ctx context.Context, st *flow.Stage) error {
	err := w.enc.Close()
	if err == nil {
		err = w.out.Flush()
	}
	if err != nil {
		return fmt.Errorf("stdout.stream: %w", err)
	}
	return nil
}

// Durable: every batch is flushed to the output as it is written, so a
// barrier is acknowledged at once.
func (w *streamWriter) Durable(ctx context.Context, st *flow.Stage) error { return nil }

// Abort flushes what was written; nothing can be taken back from a pipe.
func (w *streamWriter) Abort() { w.out.Flush() }
