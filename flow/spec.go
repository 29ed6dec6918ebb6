package flow

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// ParamType is the type of a stage parameter as written in TOML.
type ParamType string

const (
	TypeString   ParamType = "str"
	TypeInt      ParamType = "int"
	TypeFloat    ParamType = "float"
	TypeBool     ParamType = "bool"
	TypeList     ParamType = "list"
	TypeTable    ParamType = "table"
	TypeDuration ParamType = "dur"
	// TypeAny accepts any TOML value (for parameters such as `value` whose
	// type depends on the column compared).
	TypeAny ParamType = "any"
	// TypeBoolOrList accepts a bool or a list (sort's `descending`).
	TypeBoolOrList ParamType = "bool|list"
	// TypeStringOrList accepts a string or a list of strings.
	TypeStringOrList ParamType = "str|list"
)

// Param describes one parameter of a stage.
type Param struct {
	Name     string
	Type     ParamType
	Required bool
	// Default is the value used when the key is absent (nil: no default).
	Default any
	// Allowed lists the only accepted values of a string (or list of
	// strings) parameter.
	Allowed []string
	// Min and Max bound numeric parameters (and durations, in seconds).
	Min, Max *float64
	// Aliases are other accepted spellings of the key (e.g. "headers" for
	// "has_headers"); the value is stored under Name.
	Aliases []string
	Doc     string
}

// Example is a worked use of a stage, run by the registry's example test.
//
// Config is the body of the stage's [stages.config] table in TOML. For a
// transform, Input rows (NDJSON) are fed in (for a stage of several inputs,
// such as a join, Input holds one NDJSON block per input, separated by
// lines "---") and the emitted rows must equal
// Output (NDJSON). For a source, Files are created in a scratch directory
// that relative paths resolve against, and the emitted rows must equal
// Output. For a sink, Input is written and each of WantFiles must then hold
// exactly the given content.
type Example struct {
	Title     string
	Config    string
	Input     string
	Output    string
	Files     map[string]string
	WantFiles map[string]string
}

// Spec is everything Conveyor knows about one stage function: it validates
// the TOML, drives `conveyor list`/`info`, and generates the docs.
type Spec struct {
	Name        string
	Kind        Kind
	Summary     string
	Description string
	Tags        []string
	// Aliases are legacy spellings accepted in `function` or `type`
	// (e.g. "source.csv" for csv.read).
	Aliases  []string
	Params   []Param
	Examples []Example
	// Ports lists side outputs besides "errors" (e.g. "late").
	Ports []string
	// MaxInputs bounds the number of inputs of a transform or sink; a
	// source with MaxInputs > 0 may also take inputs (a lookup source, such
	// as mongodb.find with {{ column }} templates)
	// (0: no bound). MinInputs defaults to 1 for transforms and sinks;
	// -1 lets a transform run without inputs (Register stores 0).
	MinInputs, MaxInputs int
	// Unbounded reports whether a source configured so never ends by itself
	// (nil: the source is bounded).
	Unbounded func(cfg Config) bool
	// Check performs cross-parameter validation after every parameter has
	// been type-checked; it returns problems with Key set where it can.
	Check func(cfg Config) []*ConfigError
	// New constructs the stage's operator from its validated config. It
	// must not start goroutines. The result implements Operator,
	// Transformer (optionally Flusher) or Sink.
	New func(cfg Config, env BuildEnv) (any, error)
	// Schema, when set, derives the stage's output schema before any data
	// flows, so that `conveyor validate` can report an unknown column or a
	// type error in an expression before the run. inputs holds the schemas
	// of the stage's inputs in order (empty for a source); it is only
	// called when every input schema is known. It returns (nil, nil) when
	// the output schema cannot be known without data. Errors should be (or
	// wrap) a *ParamError naming the parameter at fault. It must be cheap:
	// a source may read a file's header and first rows, nothing more.
	Schema func(cfg Config, env BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error)
	// Uses, when set, tells the planner which input columns the stage
	// reads, given the columns its consumers need from its main output
	// (needed == nil: every column). It returns nil when the stage needs
	// every input column. Stages without Uses need every column. The
	// planner passes the union over a source's consumers to the source as
	// BuildEnv.Columns (projection pushdown).
	Uses func(cfg Config, needed []string) []string
}

// ParamError is an error about one parameter of a stage, returned by
// Spec.Schema so that the report names the key (and the file line).
type ParamError struct {
	Key string
	Err error
}

func (e *ParamError) Error() string { return fmt.Sprintf("%s: %v", e.Key, e.Err) }

// Unwrap returns the underlying error.
func (e *ParamError) Unwrap() error { return e.Err }

// Param returns the named parameter, or nil.
func (s *Spec) Param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// BuildEnv is what a stage constructor may use.
type BuildEnv struct {
	// StageID is the stage's id in the pipeline.
	StageID string
	// Pipeline is the pipeline's name ([pipeline] name).
	Pipeline string
	// Alloc allocates every Arrow buffer the stage creates.
	Alloc memory.Allocator
	// Clock drives all processing-time behaviour.
	Clock clock.Clock
	// Logger is already tagged with the stage id.
	Logger *slog.Logger
	// BaseDir resolves relative paths ("" = the working directory).
	BaseDir string
	// BatchSize is the pipeline's preferred rows per batch.
	BatchSize int
	// Columns, for a source, lists the only columns the rest of the
	// pipeline reads (nil: all of them). A source may skip the others; it
	// must ignore names it does not have (the stage that uses them reports
	// the unknown column).
	Columns []string
}

// Path resolves a path from the pipeline against BaseDir.
func (e BuildEnv) Path(p string) string {
	if e.BaseDir == "" || filepath.IsAbs(p) || p == "-" {
		return p
	}
	return filepath.Join(e.BaseDir, p)
}

// Config is a stage's validated parameters: every value has its spec's type
// (int64, float64, bool, string, []any, map[string]any, time.Duration) and
// defaults are filled in. Getters return the zero value for absent keys.
type Config map[string]any

// Has reports whether key is set (explicitly or by a default).
func (c Config) Has(key string) bool { _, ok := c[key]; return ok }

// Str returns a string parameter.
func (c Config) Str(key string) string { s, _ := c[key].(string); return s }

// Int returns an integer parameter.
func (c Config) Int(key string) int {
	switch v := c[key].(type) {
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

// Float returns a float parameter (ints are widened).
func (c Config) Float(key string) float64 {
	switch v := c[key].(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// Bool returns a bool parameter.
func (c Config) Bool(key string) bool { b, _ := c[key].(bool); return b }

// Duration returns a duration parameter.
func (c Config) Duration(key string) time.Duration { d, _ := c[key].(time.Duration); return d }

// List returns a list parameter.
func (c Config) List(key string) []any { l, _ := c[key].([]any); return l }

// Strings returns a list of strings parameter; a single string becomes a
// one-element list.
func (c Config) Strings(key string) []string {
	switch v := c[key].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// Table returns a table parameter.
func (c Config) Table(key string) map[string]any { t, _ := c[key].(map[string]any); return t }

// SortedKeys returns a table parameter's keys in the order they appear
// in the file when known, otherwise sorted.
func (c Config) SortedKeys(key string) []string {
	t := c.Table(key)
	if order, ok := c[key+"\x00order"].([]string); ok && len(order) == len(t) {
		return order
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseDuration accepts Go durations ("500ms", "1h30m") plus "d" for days,
// and bare numbers as seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		var n float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(s, "d"), "%g", &n); err == nil {
			return time.Duration(n * 24 * float64(time.Hour)), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	var n float64
	if _, err := fmt.Sscanf(s, "%g", &n); err == nil && fmt.Sprint(n) == s {
		return time.Duration(n * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%q is not a duration (use e.g. \"500ms\", \"5s\", \"1h\")", s)
}

// F is a helper for Param.Min/Max literals.
func F(v float64) *float64 { return &v }
