package csvconn

import (
	"github.com/conveyor-etl/conveyor/flow"
)

var compressions = []string{"auto", "none", "gzip", "zstd"}

// ReadSpec returns a new spec of csv.read.
func ReadSpec() *flow.Spec {
	return &flow.Spec{
		Name:    "csv.read",
		Kind:    flow.KindSource,
		Aliases: []string{"source.csv"},
		Summary: "Read CSV files (glob, gzip/zstd) into typed batches, in parallel.",
		Description: `Reads one CSV file, or several matched by a glob (read in name order), and emits
their rows in file order. Column types come from the schema table or are inferred from the first
infer_rows records: int, float, bool (true/false), timestamp (RFC 3339 and common forms; stored as
microseconds, UTC), else string; a column whose sampled values are all null is string. Several
files are unified by column name: types are widened (int and float give float, otherwise string)
and a column a file lacks is null in its rows. Without a header, columns are named
column_1..column_n (or after the schema's columns, in order, when it lists them all under other
names).

Parsing runs on every core: one goroutine cuts the input into chunks of whole records and workers
parse them; output order is the file order. A malformed record (wrong number of fields,
unterminated or stray quote) or a value that does not fit its column is rejected with its location
(file:line) and text: under on_error = "stop" the run fails, under "continue" the row goes to the
errors port or the dead-letter output and reading goes on.`,
		Tags: []string{"file", "csv"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true,
				Doc: "File to read; a glob (data/*.csv) reads every match in name order. Relative to the pipeline file."},
			{Name: "has_headers", Type: flow.TypeBool, Default: true, Aliases: []string{"headers"},
				Doc: "The first record names the columns. Without one, columns are column_1..column_n."},
			{Name: "delimiter", Type: flow.TypeString, Default: ",",
				Doc: `Field separator: one ASCII character ("\t" for tab).`},
			{Name: "schema", Type: flow.TypeTable,
				Doc: `Column types, e.g. {id = "int", ts = "timestamp"}: int, float, bool, string, timestamp or date. Columns not listed are inferred.`},
			{Name: "columns", Type: flow.TypeStringOrList,
				Doc: "Read only these columns, in this order; the other fields are skipped unparsed, so a bad value there is not reported. Default: every column."},
			{Name: "infer_rows", Type: flow.TypeInt, Default: int64(10000), Min: flow.F(0),
				Doc: "Records sampled to infer column types (0: every unlisted column is string)."},
			{Name: "null_values", Type: flow.TypeStringOrList, Default: []any{""},
				Doc: "Field texts read as null."},
			{Name: "quote", Type: flow.TypeString, Default: `"`,
				Doc: `Quote character; a quote inside a quoted field is doubled. "" disables quoting.`},
			{Name: "comment", Type: flow.TypeString,
				Doc: "Lines starting with this character are skipped."},
			{Name: "skip_rows", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
				Doc: "Lines skipped at the start of each file, before the header."},
			{Name: "compression", Type: flow.TypeString, Default: "auto", Allowed: compressions,
				Doc: "auto detects gzip (.gz) and zstd (.zst) from the file extension."},
			{Name: "batch_size", Type: flow.TypeInt, Min: flow.F(1),
				Doc: "Most rows per batch (default: the pipeline's batch_size). A batch also covers at most 8 MiB of text."},
		},
		Examples: []flow.Example{{
			Title:  "Read a CSV file with inferred types",
			Config: `path = "sales.csv"`,
			Files: map[string]string{"sales.csv": "id,country,amount,paid\n" +
				"1,US,12.5,true\n2,FR,,false\n3,\"Paris, FR\",7,true\n"},
			Output: `{"id":1,"country":"US","amount":12.5,"paid":true}
{"id":2,"country":"FR","amount":null,"paid":false}
{"id":3,"country":"Paris, FR","amount":7,"paid":true}
`,
		}, {
			Title:  "Header-less, semicolon-separated, with a schema",
			Config: "path = \"raw.csv\"\nhas_headers = false\ndelimiter = \";\"\nschema = { code = \"string\", qty = \"int\" }",
			Files:  map[string]string{"raw.csv": "007;3\n042;5\n"},
			Output: `{"code":"007","qty":3}
{"code":"042","qty":5}
`,
		}, {
			Title:  "Read two columns only",
			Config: "path = \"sales.csv\"\ncolumns = [\"amount\", \"id\"]",
			Files:  map[string]string{"sales.csv": "id,country,amount\n1,US,12.5\n2,FR,3\n"},
			Output: `{"amount":12.5,"id":1}
{"amount":3,"id":2}
`,
		}},
		Check:  checkConfig,
		New:    newSource,
		Schema: readSchema,
	}
}

// WriteSpec returns a new spec of csv.write.
func WriteSpec() *flow.Spec {
	return &flow.Spec{
		Name:    "csv.write",
		Kind:    flow.KindSink,
		Aliases: []string{"sink.csv"},
		Summary: "Write batches to a CSV file, atomically.",
		Description: `Writes every input row to one CSV file. The file is written under a temporary
name beside the target and renamed onto it when the input ends, so a failed or cancelled run leaves
the target untouched. Floats are written in their shortest exact form (12.5), timestamps as RFC 3339
in UTC (2024-01-01T00:00:00.123Z), nulls as empty fields; fields holding the delimiter, quotes or
newlines are quoted.`,
		Tags: []string{"file", "csv"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true,
				Doc: "File to write (parent directories are created); \"-\" writes to stdout."},
			{Name: "has_headers", Type: flow.TypeBool, Default: true, Aliases: []string{"headers"},
				Doc: "Write the column names as the first line."},
			{Name: "delimiter", Type: flow.TypeString, Default: ",",
				Doc: `Field separator: one ASCII character ("\t" for tab).`},
			{Name: "compression", Type: flow.TypeString, Default: "auto", Allowed: compressions,
				Doc: "auto compresses with gzip (.gz) or zstd (.zst) by the file extension."},
		},
		Examples: []flow.Example{{
			Title:  "Write rows to a CSV file",
			Config: `path = "out/sales.csv"`,
			Input: `{"id":1,"country":"US","amount":12.5}
{"id":2,"country":"Paris, FR","amount":null}
`,
			WantFiles: map[string]string{"out/sales.csv": "id,country,amount\n1,US,12.5\n2,\"Paris, FR\",\n"},
		}},
		MaxInputs: 0,
		Check:     checkConfig,
		New:       newSink,
	}
}

// Register adds csv.read and csv.write to r.
func Register(r *flow.Registry) {
	r.Register(ReadSpec())
	r.Register(WriteSpec())
}
