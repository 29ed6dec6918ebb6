package stdio

import (
	"io"
	"os"

	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
)

// Streams are the standard streams the stages use.
type Streams struct {
	// Stdin is read by stdin.read. Reads are not interrupted by
	// cancellation: a run cancelled while blocked on Stdin returns when
	// the read does.
	Stdin io.Reader
	// Stdout is written by stdout.write. Several stdout.write stages in
	// one pipeline write to it concurrently, each in whole chunks of lines
	// only if Stdout itself serialises writes (os.Stdout does).
	Stdout io.Writer
}

// Register adds stdin.read and stdout.write, on os.Stdin and os.Stdout, to
// r.
func Register(r *flow.Registry) {
	RegisterIO(r, Streams{Stdin: os.Stdin, Stdout: os.Stdout})
}

// RegisterIO adds stdin.read and stdout.write on the given streams to r.
func RegisterIO(r *flow.Registry, s Streams) {
	r.Register(ReadSpec(s.Stdin))
	r.Register(WriteSpec(s.Stdout))
	r.Register(StreamSpec(s.Stdin))
	r.Register(StreamWriteSpec(s.Stdout))
}

// ReadSpec is the spec of stdin.read reading from in.
func ReadSpec(in io.Reader) *flow.Spec {
	params := []flow.Param{
		{Name: "format", Type: flow.TypeString, Default: "jsonl", Allowed: []string{"json", "jsonl", "ndjson", "csv", "raw"},
			Doc: "json: a JSON array of objects (or JSON lines; told apart by the first byte); jsonl/ndjson: one object per line; " +
				"csv: CSV with the csv.read options below; raw: one row per line in a single string column \"line\"."},
	}
	for _, p := range jsonfile.ReadParams() {
		switch p.Name {
		case "format":
			continue
		case "schema":
			p.Doc = "json, jsonl, csv: column name → type (int, float, bool, string, timestamp, date) for the named columns; others are inferred."
		case "infer_rows":
			p.Doc = "json, jsonl, csv: records held and sampled to infer column types before the first batch is emitted."
		}
		params = append(params, p)
	}
	params = append(params,
		flow.Param{Name: "has_headers", Type: flow.TypeBool, Default: true, Aliases: []string{"headers"},
			Doc: "csv: the first record names the columns (otherwise column_1..column_n)."},
		flow.Param{Name: "delimiter", Type: flow.TypeString, Default: ",", Doc: `csv: field separator, one ASCII character ("\t" for tab).`},
		flow.Param{Name: "quote", Type: flow.TypeString, Default: `"`, Doc: `csv: quote character; "" disables quoting.`},
		flow.Param{Name: "comment", Type: flow.TypeString, Doc: "csv: lines starting with this character are skipped."},
		flow.Param{Name: "skip_rows", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "csv: lines skipped before the header."},
		flow.Param{Name: "null_values", Type: flow.TypeStringOrList, Default: []any{""}, Doc: "csv: field texts read as null."},
	)
	return &flow.Spec{
		Name: "stdin.read", Kind: flow.KindSource, Aliases: []string{"source.stdin"},
		Summary: "Read JSON, JSON lines, CSV or raw lines from standard input until it ends",
		Description: "A bounded source: reads standard input to its end, then the stream ends. Types are inferred from the " +
			"first infer_rows records (held in memory meanwhile) as json.read and csv.read do. Bad records are rejected with " +
			"their location (stdin:line). For a live, micro-batched read of a never-ending input use stdin.stream.\n\n" +
			"In examples, Input is what standard input holds.",
		Tags:   []string{"stdio"},
		Params: params,
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newReader(cfg, env, in)
		},
		Examples: []flow.Example{
			{
				Title:  "Read JSON lines piped in",
				Config: `format = "jsonl"`,
				Input:  `{"id": 1, "msg": "hello"}` + "\n" + `{"id": 2, "msg": "world"}` + "\n",
				Output: `{"id":1,"msg":"hello"}` + "\n" + `{"id":2,"msg":"world"}` + "\n",
			},
			{
				Title:  "Read raw lines",
				Config: `format = "raw"`,
				Input:  "first line\nsecond line\n",
				Output: `{"line":"first line"}` + "\n" + `{"line":"second line"}` + "\n",
			},
		},
	}
}

// WriteSpec is the spec of stdout.write writing to out.
func WriteSpec(out io.Writer) *flow.Spec {
	return &flow.Spec{
		Name: "stdout.write", Kind: flow.KindSink, Aliases: []string{"sink.stdout"},
		Summary: "Print rows to standard output as a table, JSON, JSON lines or CSV",
		Description: "table prints an aligned text table: a header, a rule, then the rows (numbers right-aligned, nulls as " +
			"NULL, timestamps in RFC 3339), and a last line counting them. Large outputs are printed in chunks of " +
			"1000 rows, each aligned on its own (widths only grow). json prints one JSON array, jsonl one object per line, " +
			"csv a header and comma-separated rows. limit stops printing after that many rows (the rest is read and dropped).\n\n" +
			"In examples, Output is what is printed.",
		Tags: []string{"stdio"},
		Params: []flow.Param{
			{Name: "format", Type: flow.TypeString, Default: "table", Allowed: []string{"table", "json", "jsonl", "ndjson", "csv"},
				Doc: "Output layout."},
			{Name: "limit", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Most rows printed (0: all)."},
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newWriter(cfg, out)
		},
		Examples: []flow.Example{
			{
				Title:  "Print a table",
				Config: `format = "table"`,
				Input:  `{"id":1,"name":"ana","amount":12.5}` + "\n" + `{"id":10,"name":"bo","amount":null}` + "\n",
				Output: "id  name  amount\n--  ----  ------\n 1  ana     12.5\n10  bo      NULL\n(2 rows)\n",
			},
			{
				Title:  "Print the first row as JSON lines",
				Config: "format = \"jsonl\"\nlimit = 1",
				Input:  `{"id":1}` + "\n" + `{"id":2}` + "\n",
				Output: `{"id":1}` + "\n",
			},
		},
	}
}
