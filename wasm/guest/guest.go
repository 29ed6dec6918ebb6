package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ABIVersion is the version of the host–guest calling convention this SDK
// speaks. The host refuses a module of another version.
const ABIVersion = 1

// Allocator is the allocator for the batches a guest builds.
var Allocator memory.Allocator = memory.DefaultAllocator

// EndOfStream is returned by a source's Process when it has nothing more
// to emit (an alias of io.EOF).
var EndOfStream = io.EOF

// Kind says whether a stage produces, transforms or consumes batches.
type Kind string

const (
	// KindSource stages take no input: Process(nil) is called until it
	// returns EndOfStream.
	KindSource Kind = "source"
	// KindTransform stages turn each input batch into zero or one output
	// batch.
	KindTransform Kind = "transform"
	// KindSink stages consume batches and emit nothing; Flush commits.
	KindSink Kind = "sink"
)

// Param describes one parameter of a stage, as in the pipeline's
// [stages.config] table. Type is one of "str", "int", "float", "bool",
// "list", "table", "dur" (a duration such as "5s") and "any". The host
// checks types, required keys, defaults and Allowed values before the
// stage sees its Config.
type Param struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Allowed  []string `json:"allowed,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Doc      string   `json:"doc"`
}

// Example is a worked use of a stage: Config is the body of its
// [stages.config] table (TOML), Input the rows fed in and Output the rows
// expected out, both as NDJSON. Conveyor runs every example of every
// stage in its tests and shows them in `conveyor info`.
type Example struct {
	Title  string `json:"title"`
	Config string `json:"config"`
	Input  string `json:"input,omitempty"`
	Output string `json:"output,omitempty"`
}

// Stage declares one stage function of the plugin.
type Stage struct {
	// Name is the function name used in pipeline files, conventionally
	// "plugin.verb" (e.g. "geo.lookup").
	Name string
	Kind Kind
	// Summary is one sentence; Description the full reference text.
	Summary     string
	Description string
	Tags        []string
	Params      []Param
	Examples    []Example
	// Stateful says the stage holds rows between calls and emits them from
	// Flush at the end of its input (a sort, an aggregation). The host then
	// keeps one instance for the stage's whole run.
	Stateful bool
	// New builds a processor from the stage's validated config. For a
	// stateless transform the host keeps the processor and reuses it for
	// every batch of that config that reaches this module instance (from
	// any pipeline stage, any run); a stateful transform, a source or a
	// sink gets a processor of its own for each run. After an instance is
	// discarded (a crash) New is called again on its replacement.
	New func(cfg Config) (Processor, error)
	// Validate, when set, checks the config when the pipeline is
	// validated; otherwise New is called (and its result closed).
	Validate func(cfg Config) error
}

// Plugin is what a module declares with Register.
type Plugin struct {
	Name        string
	Version     string
	Description string
	Stages      []Stage
}

// Processor is one running instance of a stage.
//
// For a transform, Process returns the batch to emit (nil: none). For a
// sink it consumes the batch and returns nil. For a source it is called
// with a nil batch and returns the next batch, or EndOfStream at the end.
// Process borrows in; see the package doc for ownership. An error fails
// the batch: the pipeline's error strategy (stop, continue, retry) decides
// what happens next, and the instance stays in use.
type Processor interface {
	Process(in arrow.RecordBatch) (arrow.RecordBatch, error)
}

// Flusher is implemented by processors with something to do at the end of
// their input: a stateful transform emits what it holds, a sink commits.
type Flusher interface {
	Flush() (arrow.RecordBatch, error)
}

// Closer is implemented by processors holding resources (open files).
// Close is called when a stateful transform, a source or a sink ends or is
// abandoned (it must not commit: a sink commits in Flush). The processor
// of a stateless transform lives as long as its instance and may never be
// closed: keep resources out of those.
type Closer interface {
	Close() error
}

// ProcessFunc adapts a function to a Processor.
type ProcessFunc func(in arrow.RecordBatch) (arrow.RecordBatch, error)

// Process calls f.
func (f ProcessFunc) Process(in arrow.RecordBatch) (arrow.RecordBatch, error) { return f(in) }

// Func returns a Stage.New for a stage without configuration that applies
// f to every batch.
func Func(f ProcessFunc) func(Config) (Processor, error) {
	return func(Config) (Processor, error) { return f, nil }
}

var registered *Plugin

// Register declares the plugin. Call it once, from an init function.
// It panics on a programmer error (a second call, a stage without a name,
// a constructor or a valid kind, a duplicate stage name).
func Register(p Plugin) {
	if registered != nil {
		panic("guest: Register called twice")
	}
	seen := map[string]bool{}
	for _, s := range p.Stages {
		if s.Name == "" || s.New == nil {
			panic(fmt.Sprintf("guest: stage %q needs a name and New", s.Name))
		}
		switch s.Kind {
		case KindSource, KindTransform, KindSink:
		default:
			panic(fmt.Sprintf("guest: stage %q: kind %q is not source, transform or sink", s.Name, s.Kind))
		}
		if seen[s.Name] {
			panic(fmt.Sprintf("guest: stage %q declared twice", s.Name))
		}
		seen[s.Name] = true
	}
	registered = &p
}

// Config holds a stage's parameters as checked by the host: defaults are
// filled in, numbers arrive as json.Number, durations as strings ("1.5s").
// Getters return the zero value for absent keys or another type.
type Config map[string]any

// Has reports whether key is set.
func (c Config) Has(key string) bool { _, ok := c[key]; return ok }

// Str returns a string parameter.
func (c Config) Str(key string) string { s, _ := c[key].(string); return s }

// Int returns an integer parameter.
func (c Config) Int(key string) int64 {
	switch v := c[key].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return int64(f)
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// Float returns a float parameter (integers are widened).
func (c Config) Float(key string) float64 {
	switch v := c[key].(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case float64:
		return v
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return 0
}

// Bool returns a bool parameter.
func (c Config) Bool(key string) bool { b, _ := c[key].(bool); return b }

// Duration returns a duration parameter.
func (c Config) Duration(key string) time.Duration {
	switch v := c[key].(type) {
	case string:
		d, _ := time.ParseDuration(v)
		return d
	case json.Number:
		f, _ := v.Float64()
		return time.Duration(f * float64(time.Second))
	}
	return 0
}

// List returns a list parameter.
func (c Config) List(key string) []any { l, _ := c[key].([]any); return l }

// Strings returns a list of strings; a single string becomes a one-element
// list.
func (c Config) Strings(key string) []string {
	switch v := c[key].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			switch x := x.(type) {
			case string:
				out = append(out, x)
			case json.Number:
				out = append(out, x.String())
			default:
				out = append(out, fmt.Sprint(x))
			}
		}
		return out
	}
	return nil
}

// Table returns a table parameter.
func (c Config) Table(key string) map[string]any { t, _ := c[key].(map[string]any); return t }

// Value returns a parameter of type "any" as the host sent it: string,
// bool, json.Number, []any or map[string]any.
func (c Config) Value(key string) any { return c[key] }

// Number parses a json.Number or a numeric string as float64.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// errNoPlugin is reported when the module never called Register.
var errNoPlugin = errors.New("the module registered no plugin (call guest.Register from an init function)")
