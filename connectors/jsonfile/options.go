package jsonfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// Formats.
const (
	FormatAuto    = "auto"
	FormatRecords = "records"
	FormatJSONL   = "jsonl"
	FormatNDJSON  = "ndjson" // alias of FormatJSONL
)

// ErrBadFormat is returned for input that is not in the configured JSON
// layout as a whole (as opposed to one bad record, which is rejected).
var ErrBadFormat = errors.New("bad JSON layout")

// ReadOptions configure the JSON reader.
type ReadOptions struct {
	// Format is FormatAuto (records when the first non-blank byte is '[',
	// jsonl otherwise), FormatRecords or FormatJSONL.
	Format string
	// Schema fixes the types of the named columns (and adds them when the
	// data never has them); the other columns are inferred. Nil: all
	// inferred.
	Schema *arrow.Schema
	// InferRows is how many records (per file) are sampled for inference.
	InferRows int
	// BatchSize is the most rows per emitted batch.
	BatchSize int
	// Compression is auto (by extension), none, gzip or zstd; used by
	// file reads only.
	Compression string
}

// DefaultReadOptions are json.read's defaults.
func DefaultReadOptions() ReadOptions {
	return ReadOptions{Format: FormatAuto, InferRows: 10000, BatchSize: 65536, Compression: "auto"}
}

// ReadOptionsFromConfig builds ReadOptions from a validated config with
// json.read's parameter names (format, schema, infer_rows, batch_size,
// compression; absent keys keep their defaults, batch_size defaults to
// env.BatchSize). Other connectors that accept JSON may declare the same
// parameters and call it.
func ReadOptionsFromConfig(cfg flow.Config, env flow.BuildEnv) (ReadOptions, error) {
	o := DefaultReadOptions()
	if env.BatchSize > 0 {
		o.BatchSize = env.BatchSize
	}
	if cfg.Has("format") {
		o.Format = normFormat(cfg.Str("format"))
	}
	if cfg.Has("infer_rows") {
		o.InferRows = cfg.Int("infer_rows")
	}
	if cfg.Int("batch_size") > 0 {
		o.BatchSize = cfg.Int("batch_size")
	}
	if cfg.Has("compression") {
		o.Compression = cfg.Str("compression")
	}
	if cfg.Has("schema") {
		sc, err := batch.SchemaFromTable(cfg.Table("schema"), cfg.SortedKeys("schema"))
		if err != nil {
			return o, err
		}
		o.Schema = sc
	}
	if o.InferRows < 1 {
		o.InferRows = 1
	}
	if o.BatchSize < 1 {
		o.BatchSize = 1
	}
	switch o.Format {
	case FormatAuto, FormatRecords, FormatJSONL:
	default:
		return o, fmt.Errorf("format %q: use records, jsonl or ndjson", o.Format)
	}
	return o, nil
}

func normFormat(f string) string {
	f = strings.ToLower(strings.TrimSpace(f))
	switch f {
	case FormatNDJSON, "json_lines", "jsonlines":
		return FormatJSONL
	case "", "json":
		return FormatAuto
	}
	return f
}

// formatForPath picks records or jsonl from a file name for writing:
// .jsonl and .ndjson (optionally compressed) mean jsonl, anything else
// records.
func formatForPath(path string) string {
	p := strings.ToLower(path)
	for _, ext := range []string{".gz", ".gzip", ".zst", ".zstd"} {
		p = strings.TrimSuffix(p, ext)
	}
	switch filepath.Ext(p) {
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return FormatRecords
}

func checkSchemaParam(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	if cfg.Has("schema") {
		if _, err := batch.SchemaFromTable(cfg.Table("schema"), cfg.SortedKeys("schema")); err != nil {
			errs = append(errs, &flow.ConfigError{Key: "schema", Message: err.Error()})
		}
	}
	if cfg.Has("path") && strings.TrimSpace(cfg.Str("path")) == "" {
		errs = append(errs, &flow.ConfigError{Key: "path", Message: "must not be empty"})
	}
	return errs
}
