package stdio

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
)

// sourceName locates stdin records in rejections ("stdin:line").
const sourceName = "stdin"

// rawSchema is the schema of format = "raw".
var rawSchema = arrow.NewSchema([]arrow.Field{{Name: "line", Type: arrow.BinaryTypes.String}}, nil)

// reader is the stdin.read operator.
type reader struct {
	in     io.Reader
	format string
	json   jsonfile.ReadOptions
	csv    csvconn.ReadOptions
	batch  int
}

func newReader(cfg flow.Config, env flow.BuildEnv, in io.Reader) (*reader, error) {
	r := &reader{in: in, format: cfg.Str("format")}
	var err error
	switch r.format {
	case "csv":
		r.csv, err = csvconn.ReadOptionsFromConfig(cfg, env)
	case "raw":
		r.batch = env.BatchSize
		if cfg.Int("batch_size") > 0 {
			r.batch = cfg.Int("batch_size")
		}
		if r.batch <= 0 {
			r.batch = 65536
		}
	default:
		c := flow.Config{}
		for k, v := range cfg {
			c[k] = v
		}
		if r.format == "json" {
			c["format"] = jsonfile.FormatAuto
		}
		r.json, err = jsonfile.ReadOptionsFromConfig(c, env)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Run reads the input to its end. It returns nil at the end of input and
// when the pipeline drains. When the input is an *os.File (a terminal or a
// pipe), reads happen on a helper goroutine so that a read blocked on it
// does not keep a cancelled run from ending.
func (r *reader) Run(ctx context.Context, st *flow.Stage) error {
	in := r.in
	if f, ok := in.(*os.File); ok {
		pr, pw := io.Pipe()
		go func() {
			_, err := io.Copy(pw, f)
			pw.CloseWithError(err)
		}()
		stop := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
		defer stop()
		defer pr.Close()
		in = pr
	}
	switch r.format {
	case "csv":
		return csvconn.ReadStream(ctx, st, in, sourceName, r.csv)
	case "raw":
		return r.readRawFrom(ctx, st, in)
	}
	return jsonfile.ReadStream(ctx, st, in, sourceName, r.json)
}

// readRaw emits one row per line (without its line ending).
func (r *reader) readRawFrom(ctx context.Context, st *flow.Stage, in io.Reader) error {
	br := bufio.NewReaderSize(in, 64<<10)
	b := array.NewStringBuilder(st.Alloc)
	defer b.Release()
	emit := func() error {
		if b.Len() == 0 {
			return nil
		}
		col := b.NewArray()
		rec := array.NewRecordBatch(rawSchema, []arrow.Array{col}, int64(col.Len()))
		col.Release()
		return st.Emit(ctx, rec)
	}
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading %s: %w", sourceName, err)
		}
		if len(line) > 0 {
			st.Metrics().BytesRead.Add(int64(len(line)))
			b.Append(string(bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))))
			line = line[:0]
		}
		if err == io.EOF {
			return emit()
		}
		if b.Len() >= r.batch {
			if err := emit(); err != nil {
				return err
			}
			select {
			case <-st.Draining():
				return nil
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
		}
	}
}
