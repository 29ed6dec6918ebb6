package csvconn

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// ReadOptions configure CSV parsing. The zero value is not useful; start
// from [DefaultReadOptions] or [ReadOptionsFromConfig].
type ReadOptions struct {
	// HasHeader says the first record (after SkipRows) names the columns.
	// Without a header, columns are named column_1..column_n (or after the
	// Schema's columns, in order, when none of them is named column_N).
	HasHeader bool
	// Delimiter separates fields; it must be a single-byte (ASCII) rune.
	Delimiter rune
	// Quote encloses fields holding delimiters, quotes (doubled) or
	// newlines; 0 disables quoting. Single-byte.
	Quote rune
	// Comment, when not 0, marks lines to skip when it is their first byte.
	Comment rune
	// SkipRows is the number of physical lines skipped before the header.
	SkipRows int
	// NullValues are the field texts read as null.
	NullValues []string
	// Schema fixes the types of the named columns; others are inferred.
	// Its order matters only for header-less input (see HasHeader).
	Schema []arrow.Field
	// InferRows is how many records are sampled to infer types.
	InferRows int
	// BatchSize is the most rows per emitted batch. A batch also covers at
	// most a few MiB of text, so with long rows batches are smaller.
	BatchSize int
	// Compression is used by the file source only: auto, none, gzip, zstd.
	Compression string
	// Columns, when not nil, is the projection: only these columns are
	// parsed and emitted, in this order. Records are still checked for
	// their number of fields; the other fields are skipped unparsed.
	Columns []string
	// ColumnsHint makes Columns a hint from the planner: names the input
	// lacks are ignored, the file's column order is kept, and at least one
	// column is read.
	ColumnsHint bool

	// Internal knobs (tests set them to exercise chunk boundaries).
	chunkBytes     int // target bytes per chunk (upper bound for sizing)
	maxRecordBytes int // longest record accepted
	workers        int // parse goroutines (0: GOMAXPROCS)
}

// DefaultReadOptions returns the defaults of csv.read: header, comma,
// double quote, null values [""], 10000 inference rows, 65536 rows per
// batch.
func DefaultReadOptions() ReadOptions {
	return ReadOptions{
		HasHeader: true, Delimiter: ',', Quote: '"', NullValues: []string{""},
		InferRows: 10000, BatchSize: 65536, Compression: "auto",
	}
}

// ReadOptionsFromConfig builds ReadOptions from a validated csv.read-style
// config (has_headers, delimiter, quote, comment, skip_rows, null_values,
// schema, infer_rows, batch_size, compression; absent keys keep their
// defaults). batch_size defaults to env.BatchSize. Other connectors that
// accept CSV (stdin.read, kafka, http) may declare the same parameter names
// and call it.
func ReadOptionsFromConfig(cfg flow.Config, env flow.BuildEnv) (ReadOptions, error) {
	o := DefaultReadOptions()
	if env.BatchSize > 0 {
		o.BatchSize = env.BatchSize
	}
	if cfg.Has("has_headers") {
		o.HasHeader = cfg.Bool("has_headers")
	}
	var err error
	if cfg.Has("delimiter") {
		if o.Delimiter, err = oneByte("delimiter", cfg.Str("delimiter"), false); err != nil {
			return o, err
		}
	}
	if cfg.Has("quote") {
		if o.Quote, err = oneByte("quote", cfg.Str("quote"), true); err != nil {
			return o, err
		}
	}
	if cfg.Has("comment") {
		if o.Comment, err = oneByte("comment", cfg.Str("comment"), true); err != nil {
			return o, err
		}
	}
	if cfg.Has("skip_rows") {
		o.SkipRows = cfg.Int("skip_rows")
	}
	if cfg.Has("null_values") {
		o.NullValues = cfg.Strings("null_values")
	}
	if cfg.Has("infer_rows") {
		o.InferRows = cfg.Int("infer_rows")
	}
	if cfg.Has("batch_size") && cfg.Int("batch_size") > 0 {
		o.BatchSize = cfg.Int("batch_size")
	}
	if cfg.Has("compression") {
		o.Compression = cfg.Str("compression")
	}
	if cfg.Has("columns") {
		o.Columns = cfg.Strings("columns")
	} else if env.Columns != nil {
		o.Columns, o.ColumnsHint = env.Columns, true
	}
	if cfg.Has("schema") {
		sc, err := batch.SchemaFromTable(cfg.Table("schema"), cfg.SortedKeys("schema"))
		if err != nil {
			return o, err
		}
		o.Schema = sc.Fields()
	}
	return o, o.validate()
}

func (o *ReadOptions) validate() error {
	if o.Delimiter <= 0 || o.Delimiter > 127 || o.Delimiter == '\n' || o.Delimiter == '\r' {
		return fmt.Errorf("delimiter %q must be a single ASCII character other than a newline", o.Delimiter)
	}
	if o.Quote < 0 || o.Quote > 127 || o.Quote == '\n' || o.Quote == '\r' || (o.Quote != 0 && o.Quote == o.Delimiter) {
		return fmt.Errorf("quote %q must be a single ASCII character, not a newline nor the delimiter", o.Quote)
	}
	if o.Comment < 0 || o.Comment > 127 || o.Comment == '\n' || o.Comment == '\r' || (o.Comment != 0 && (o.Comment == o.Delimiter || o.Comment == o.Quote)) {
		return fmt.Errorf("comment %q must be a single ASCII character, not a newline, the delimiter nor the quote", o.Comment)
	}
	if o.SkipRows < 0 || o.InferRows < 0 {
		return fmt.Errorf("skip_rows and infer_rows must not be negative")
	}
	for _, f := range o.Schema {
		switch f.Type.ID() {
		case arrow.INT64, arrow.FLOAT64, arrow.BOOL, arrow.STRING, arrow.TIMESTAMP, arrow.DATE32:
		default:
			return fmt.Errorf("schema: column %q: type %s is not supported by CSV (use int, float, bool, string, timestamp or date)", f.Name, batch.TypeName(f.Type))
		}
	}
	return nil
}

func oneByte(key, s string, emptyOK bool) (rune, error) {
	switch {
	case s == "" && emptyOK:
		return 0, nil
	case len(s) == 1 && s[0] < 128:
		return rune(s[0]), nil
	case s == `\t`:
		return '\t', nil
	}
	return 0, fmt.Errorf("%s must be a single ASCII character, got %q", key, s)
}

// WriteOptions configure the [Encoder].
type WriteOptions struct {
	// Header writes the column names before the first row.
	Header bool
	// Delimiter separates fields (',' when 0).
	Delimiter rune
}

// checkConfig is the cross-parameter validation of both specs.
func checkConfig(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	for _, k := range []string{"delimiter", "quote", "comment"} {
		if !cfg.Has(k) {
			continue
		}
		if _, err := oneByte(k, cfg.Str(k), k != "delimiter"); err != nil {
			errs = append(errs, &flow.ConfigError{Key: k, Message: err.Error()})
		}
	}
	if cfg.Has("schema") {
		t := cfg.Table("schema")
		for _, name := range cfg.SortedKeys("schema") {
			s, ok := t[name].(string)
			if !ok {
				errs = append(errs, &flow.ConfigError{Key: "schema", Message: fmt.Sprintf("column %q: type must be a string such as \"int\"", name)})
				continue
			}
			if _, err := batch.ParseType(s); err != nil {
				errs = append(errs, &flow.ConfigError{Key: "schema", Message: fmt.Sprintf("column %q: %v", name, err)})
			}
		}
	}
	if cfg.Has("path") && strings.TrimSpace(cfg.Str("path")) == "" {
		errs = append(errs, &flow.ConfigError{Key: "path", Message: "must not be empty"})
	}
	return errs
}
