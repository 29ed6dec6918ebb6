package jsonfile

import (
	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds json.read and json.write (legacy names source.json and
// sink.json) to r.
func Register(r *flow.Registry) {
	r.Register(ReadSpec())
	r.Register(WriteSpec())
}

// ReadParams are json.read's parameters besides path; connectors reading
// JSON from other places (stdin, HTTP, Kafka) may reuse them with
// ReadOptionsFromConfig.
func ReadParams() []flow.Param {
	return []flow.Param{
		{Name: "format", Type: flow.TypeString, Default: FormatAuto, Allowed: []string{FormatAuto, FormatRecords, FormatJSONL, FormatNDJSON},
			Doc: "Layout: records (one top-level JSON array of objects, streamed), jsonl or ndjson (one object per line). " +
				"auto picks records when the input starts with '[', jsonl otherwise."},
		{Name: "schema", Type: flow.TypeTable,
			Doc: "Column name → type (int, float, bool, string, timestamp, date) for the named columns; other columns are inferred."},
		{Name: "infer_rows", Type: flow.TypeInt, Default: int64(10000), Min: flow.F(1),
			Doc: "Records sampled (per file) to infer column types. A record with a key first seen after them is rejected (error strategy, dead-letter output); name the key in schema to keep it."},
		{Name: "batch_size", Type: flow.TypeInt, Min: flow.F(1),
			Doc: "Rows per emitted batch (default: the pipeline's global batch_size)."},
	}
}

// ReadSpec is the spec of json.read.
func ReadSpec() *flow.Spec {
	params := []flow.Param{
		{Name: "path", Type: flow.TypeString, Required: true,
			Doc: "File to read; globs (*, ?, [..]) read every match in name order, with schemas unified by column name."},
	}
	params = append(params, ReadParams()...)
	params = append(params, flow.Param{Name: "compression", Type: flow.TypeString, Default: "auto", Allowed: []string{"auto", "none", "gzip", "zstd"},
		Doc: "Decompression; auto decides by extension (.gz, .zst)."})
	return &flow.Spec{
		Name: "json.read", Kind: flow.KindSource, Aliases: []string{"source.json"},
		Summary: "Read JSON records or JSON lines (NDJSON) files",
		Description: "Reads a top-level JSON array of objects (format records, streamed element by element, never loaded whole) " +
			"or one JSON object per line (jsonl/ndjson). Column types are inferred from the first infer_rows records of each file: " +
			"integers → int64 (float64 when mixed with fractions), booleans → bool, strings → timestamp when every one is RFC 3339 " +
			"or a date, otherwise string; objects and arrays are kept as their JSON text in a string column (written back as " +
			"nested JSON by json.write). With a glob, every file is sampled first and the schemas are unified: int widens to float, " +
			"incompatible types become string, missing columns are null.\n\n" +
			"A line that is not a JSON object, or a value that does not fit its column's type, is rejected with its location " +
			"(path:line) and text: under on_error = \"stop\" the run fails, under \"continue\" the row goes to the errors port.",
		Tags:   []string{"file", "json"},
		Params: params,
		Check:  checkSchemaParam,
		New:    newFileReader,
		Examples: []flow.Example{
			{
				Title:  "Read JSON lines with inferred types",
				Config: `path = "events.jsonl"`,
				Files: map[string]string{"events.jsonl": `{"id": 1, "user": "ana", "amount": 9.5, "at": "2024-05-01T10:00:00Z"}
{"id": 2, "user": "bo", "amount": 12, "at": "2024-05-01T11:30:00Z"}
`},
				Output: `{"id":1,"user":"ana","amount":9.5,"at":"2024-05-01T10:00:00Z"}
{"id":2,"user":"bo","amount":12,"at":"2024-05-01T11:30:00Z"}
`,
			},
			{
				Title:  "Read a JSON array, nested values kept as JSON",
				Config: "path = \"orders.json\"\nformat = \"records\"",
				Files: map[string]string{"orders.json": `[
  {"order": "A1", "items": [{"sku": "x", "qty": 2}], "paid": true},
  {"order": "A2", "items": [], "paid": false}
]
`},
				Output: `{"order":"A1","items":[{"sku":"x","qty":2}],"paid":true}
{"order":"A2","items":[],"paid":false}
`,
			},
		},
	}
}

// WriteSpec is the spec of json.write.
func WriteSpec() *flow.Spec {
	return &flow.Spec{
		Name: "json.write", Kind: flow.KindSink, Aliases: []string{"sink.json"},
		Summary: "Write rows as a JSON array or JSON lines",
		Description: "Writes every input row as a JSON object, keys in column order, timestamps as RFC 3339 strings. " +
			"format records writes one top-level array (\"[]\" for no rows); jsonl/ndjson one object per line. " +
			"The file is written under a temporary name beside the target and renamed when the input ends, " +
			"so a failed run never leaves a partial file.",
		Tags: []string{"file", "json"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true, Doc: "Target file; parent directories are created."},
			{Name: "format", Type: flow.TypeString, Default: FormatAuto, Allowed: []string{FormatAuto, FormatRecords, FormatJSONL, FormatNDJSON},
				Doc: "records (a JSON array) or jsonl/ndjson (one object per line); auto picks jsonl for .jsonl/.ndjson paths, records otherwise."},
			{Name: "pretty", Type: flow.TypeBool, Default: false, Doc: "Indent records output by two spaces (not allowed with jsonl)."},
			{Name: "compression", Type: flow.TypeString, Default: "auto", Allowed: []string{"auto", "none", "gzip", "zstd"},
				Doc: "Compression; auto decides by extension (.gz, .zst)."},
		},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			errs := checkSchemaParam(cfg)
			f := normFormat(cfg.Str("format"))
			if f == FormatAuto {
				f = formatForPath(cfg.Str("path"))
			}
			if cfg.Bool("pretty") && f == FormatJSONL {
				errs = append(errs, &flow.ConfigError{Key: "pretty", Message: "pretty output needs format = \"records\": a JSON line must stay on one line"})
			}
			return errs
		},
		New: newFileWriter,
		Examples: []flow.Example{
			{
				Title:     "Write JSON lines",
				Config:    `path = "out.jsonl"`,
				Input:     `{"id":1,"name":"ana","at":"2024-05-01T10:00:00Z"}` + "\n" + `{"id":2,"name":"bo","at":null}` + "\n",
				WantFiles: map[string]string{"out.jsonl": `{"id":1,"name":"ana","at":"2024-05-01T10:00:00Z"}` + "\n" + `{"id":2,"name":"bo","at":null}` + "\n"},
			},
			{
				Title:     "Write a pretty JSON array",
				Config:    "path = \"out.json\"\npretty = true",
				Input:     `{"id":1,"tags":["a","b"]}` + "\n",
				WantFiles: map[string]string{"out.json": "[\n  {\n    \"id\": 1,\n    \"tags\": [\n      \"a\",\n      \"b\"\n    ]\n  }\n]\n"},
			},
		},
	}
}
