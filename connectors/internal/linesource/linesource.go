// Package linesource is the engine of the line-oriented streaming sources
// (stdin.stream, file.watch; later the message sources): records arrive
// one by one from a reader goroutine, flow.MicroBatcher cuts them into
// batches at batch_size rows or after linger, and one parser per stream
// (JSON lines, CSV or raw lines, with a schema fixed by the first batch)
// turns each cut into an Arrow batch.
package linesource

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
)

// Formats are the formats a line source reads.
var Formats = []string{"jsonl", "ndjson", "json", "csv", "raw"}

// Params are the parameters every line source takes besides its own:
// format, batch_size, linger, and the JSON and CSV reading options.
func Params() []flow.Param {
	params := []flow.Param{
		{Name: "format", Type: flow.TypeString, Default: "jsonl", Allowed: Formats,
			Doc: "jsonl/ndjson (json is accepted for the same): one JSON object per line; csv: CSV lines (a header first unless has_headers = false); " +
				"raw: each line as a row of one string column \"line\"."},
		{Name: "batch_size", Type: flow.TypeInt, Min: flow.F(1),
			Doc: "Most rows per batch: a batch is handed on when it holds this many rows (default: the pipeline's batch size)."},
		{Name: "linger", Type: flow.TypeDuration, Default: "100ms",
			Doc: "Longest time a row waits for its batch to fill: a batch is handed on this long after its first row arrived."},
		{Name: "schema", Type: flow.TypeTable,
			Doc: "jsonl, csv: column name → type (int, float, bool, string, timestamp, date) for the named columns; others are inferred from the first batch."},
		{Name: "infer_rows", Type: flow.TypeInt, Default: int64(10000), Min: flow.F(1),
			Doc: "jsonl, csv: most rows of the first batch sampled to infer the column types, fixed from then on."},
		{Name: "has_headers", Type: flow.TypeBool, Default: true, Aliases: []string{"headers"},
			Doc: "csv: the first line names the columns (otherwise column_1..column_n)."},
		{Name: "delimiter", Type: flow.TypeString, Default: ",", Doc: `csv: field separator, one ASCII character ("\t" for tab).`},
		{Name: "null_values", Type: flow.TypeStringOrList, Default: []any{""}, Doc: "csv: field texts read as null."},
	}
	return params
}

// Parser turns whole lines into batches emitted on the stage.
type Parser interface {
	Parse(ctx context.Context, data []byte) error
	Release()
}

// Config is a line source's parsed common parameters.
type Config struct {
	Format    string
	BatchSize int
	Linger    time.Duration
	json      jsonfile.ReadOptions
	csv       csvconn.ReadOptions
}

// ParseConfig reads the common parameters.
func ParseConfig(cfg flow.Config, env flow.BuildEnv) (Config, error) {
	c := Config{Format: cfg.Str("format"), BatchSize: cfg.Int("batch_size"), Linger: cfg.Duration("linger")}
	if c.Format == "" || c.Format == "ndjson" || c.Format == "json" {
		c.Format = "jsonl"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = env.BatchSize
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 65536
	}
	if c.Linger <= 0 {
		c.Linger = flow.DefaultLinger
	}
	var err error
	switch c.Format {
	case "csv":
		cc := flow.Config{}
		for k, v := range cfg {
			switch k {
			case "format", "linger", "path", "from", "poll_interval":
			default:
				cc[k] = v
			}
		}
		c.csv, err = csvconn.ReadOptionsFromConfig(cc, env)
		c.csv.BatchSize = c.BatchSize
	case "jsonl":
		jc := flow.Config{"format": jsonfile.FormatJSONL}
		for _, k := range []string{"schema", "infer_rows"} {
			if v, ok := cfg[k]; ok {
				jc[k] = v
			}
		}
		c.json, err = jsonfile.ReadOptionsFromConfig(jc, env)
		c.json.BatchSize = c.BatchSize
	case "raw":
	default:
		return c, &flow.ParamError{Key: "format", Err: fmt.Errorf("unknown format %q (one of jsonl, csv, raw)", c.Format)}
	}
	return c, err
}

// NewParser returns the parser of c's format; name locates rejected lines.
func (c Config) NewParser(st *flow.Stage, name string) (Parser, error) {
	switch c.Format {
	case "csv":
		return csvconn.NewLinesParser(st, name, c.csv)
	case "raw":
		return &rawParser{st: st}, nil
	}
	return jsonfile.NewLinesParser(st, name, c.json), nil
}

// RawSchema is the schema of format = "raw".
var RawSchema = arrow.NewSchema([]arrow.Field{{Name: "line", Type: arrow.BinaryTypes.String}}, nil)

type rawParser struct{ st *flow.Stage }

func (p *rawParser) Parse(ctx context.Context, data []byte) error {
	b := array.NewStringBuilder(p.st.Alloc)
	defer b.Release()
	for len(data) > 0 {
		i := 0
		for i < len(data) && data[i] != '\n' {
			i++
		}
		line := data[:i]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		b.Append(string(line))
		if i < len(data) {
			i++
		}
		data = data[i:]
	}
	if b.Len() == 0 {
		return nil
	}
	col := b.NewArray()
	rec := array.NewRecordBatch(RawSchema, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	return p.st.Emit(ctx, rec)
}

func (p *rawParser) Release() {}

// Line is one record read by a source's reader goroutine, or the error
// that ended its input (Err set, Data nil).
type Line struct {
	Data []byte
	Err  error
}

// Run is the stage loop of a line source: it takes lines from lines until
// the channel closes (the end of input: what is held is emitted, then Run
// returns nil), cuts them into batches, and parses each. When the pipeline
// drains it emits what it holds and returns nil; a Line with Err ends the
// run with that error after emitting what was held before it. The reader
// goroutine must stop sending when ctx ends.
func Run(ctx context.Context, st *flow.Stage, c Config, name string, lines <-chan Line) error {
	p, err := c.NewParser(st, name)
	if err != nil {
		return err
	}
	defer p.Release()
	mb := flow.NewMicroBatcher(st.Clock, c.BatchSize, c.Linger)
	defer mb.Stop()
	cut := func() error {
		if mb.Len() == 0 {
			return nil
		}
		data, _ := mb.Take()
		return p.Parse(ctx, data)
	}
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return cut()
			}
			if l.Err != nil {
				if err := cut(); err != nil {
					return err
				}
				return fmt.Errorf("reading %s: %w", name, l.Err)
			}
			if mb.Add(l.Data) {
				if err := cut(); err != nil {
					return err
				}
			}
		case <-mb.Due():
			if err := cut(); err != nil {
				return err
			}
		case <-st.Draining():
			// Lines the reader already handed over are part of what was
			// read: take them (without waiting for more), then stop.
			for {
				select {
				case l, ok := <-lines:
					if !ok || l.Err != nil {
						return cut()
					}
					if mb.Add(l.Data) {
						if err := cut(); err != nil {
							return err
						}
					}
					continue
				default:
				}
				return cut()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
