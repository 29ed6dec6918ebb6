package flow

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// File is a pipeline file as written, after variable substitution and
// before validation against the registry.
type File struct {
	// Path is where the file was read from (used in error messages).
	Path          string
	Pipeline      PipelineInfo
	Global        Global
	Stages        []StageDecl
	ErrorHandling ErrorHandling

	lines *lineIndex
	// problems found while decoding, reported by Validate with the rest.
	problems ConfigErrors
}

// PipelineInfo is the [pipeline] table.
type PipelineInfo struct {
	Name        string
	Version     string
	Description string
}

// Global is the [global] table.
type Global struct {
	LogLevel        string
	ChannelCapacity int
	BatchSize       int
	// Plugins lists plugin entries: a path string, or a table with at
	// least `path`.
	Plugins []any
	// PluginDir is where relative plugin paths are looked up, and the
	// directory whose plugins `conveyor plugin list` shows.
	PluginDir string
	Variables map[string]string
}

// StageDecl is one [[stages]] entry.
type StageDecl struct {
	ID       string
	Function string
	Inputs   []string
	Config   map[string]any
	// Index is the position in the file (0-based).
	Index int
}

// ErrorHandling is the [error_handling] table.
type ErrorHandling struct {
	Strategy          Strategy
	MaxRetries        int
	RetryDelaySeconds float64
	DeadLetter        DeadLetterConfig
}

// DeadLetterConfig is [error_handling.dead_letter_queue].
type DeadLetterConfig struct {
	Enabled bool
	Path    string
}

// Defaults for [global].
const (
	DefaultChannelCapacity = 8
	DefaultBatchSize       = 65536
)

// LoadFile reads and decodes a pipeline file.
func LoadFile(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// Parse decodes a pipeline file's text. TOML syntax errors are returned at
// once (with their line); problems of content are kept for Validate so that
// every problem is reported together.
func Parse(path string, src []byte) (*File, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, ConfigErrors{{File: path, Line: pe.Position.Line, Message: "TOML syntax: " + pe.Message}}
		}
		return nil, ConfigErrors{{File: path, Message: "TOML syntax: " + err.Error()}}
	}
	f := &File{Path: path, lines: indexLines(src)}
	f.Global.ChannelCapacity = DefaultChannelCapacity
	f.Global.BatchSize = DefaultBatchSize
	f.Global.LogLevel = "info"
	f.ErrorHandling.Strategy = StrategyStop
	f.ErrorHandling.MaxRetries = 3
	f.ErrorHandling.RetryDelaySeconds = 1

	top := func(key, format string, args ...any) {
		f.problems = append(f.problems, &ConfigError{File: path, Line: f.lines.topLine(key), Key: key, Message: fmt.Sprintf(format, args...)})
	}

	// Variables first: they are substituted everywhere else.
	if g, ok := raw["global"].(map[string]any); ok {
		if vars, ok := g["variables"].(map[string]any); ok {
			f.Global.Variables = map[string]string{}
			for k, v := range vars {
				s, err := substituteEnv(fmt.Sprint(v))
				if err != nil {
					top("global.variables."+k, "%v", err)
				}
				f.Global.Variables[k] = s
			}
		}
	}
	sub := func(where string, s string) string {
		out, err := substituteEnv(s)
		if err != nil {
			top(where, "%v", err)
		}
		return substituteVars(out, f.Global.Variables)
	}

	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "pipeline":
			t, ok := v.(map[string]any)
			if !ok {
				top(k, "must be a table")
				continue
			}
			for _, kk := range sortedKeys(t) {
				s, _ := t[kk].(string)
				switch kk {
				case "name":
					f.Pipeline.Name = sub("pipeline.name", s)
				case "version":
					f.Pipeline.Version = s
				case "description":
					f.Pipeline.Description = s
				default:
					// Free-form metadata is allowed in [pipeline].
				}
			}
		case "global":
			t, ok := v.(map[string]any)
			if !ok {
				top(k, "must be a table")
				continue
			}
			f.decodeGlobal(t, top)
		case "stages":
			list, ok := v.([]map[string]any)
			if !ok {
				top(k, "must be an array of tables ([[stages]])")
				continue
			}
			for i, st := range list {
				f.decodeStage(i, st, sub)
			}
		case "error_handling":
			t, ok := v.(map[string]any)
			if !ok {
				top(k, "must be a table")
				continue
			}
			f.decodeErrorHandling(t, top, sub)
		default:
			msg := "unknown top-level table"
			if s := Nearest(k, []string{"pipeline", "global", "stages", "error_handling"}); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			top(k, "%s", msg)
		}
	}
	return f, nil
}

func (f *File) decodeGlobal(t map[string]any, top func(string, string, ...any)) {
	for _, k := range sortedKeys(t) {
		v := t[k]
		key := "global." + k
		switch k {
		case "log_level":
			s, _ := v.(string)
			switch s {
			case "debug", "info", "warn", "warning", "error":
				f.Global.LogLevel = s
			default:
				top(key, "must be one of debug, info, warn, error; got %v", v)
			}
		case "channel_capacity", "batch_size":
			n, ok := v.(int64)
			if !ok || n < 1 {
				top(key, "must be a positive integer, got %v", v)
				continue
			}
			if k == "channel_capacity" {
				f.Global.ChannelCapacity = int(n)
			} else {
				f.Global.BatchSize = int(n)
			}
		case "plugins":
			switch l := v.(type) {
			case []any:
				f.Global.Plugins = l
			case []map[string]any:
				for _, m := range l {
					f.Global.Plugins = append(f.Global.Plugins, m)
				}
			default:
				top(key, "must be a list of plugin paths or tables")
			}
		case "plugin_dir":
			if d, ok := v.(string); ok {
				f.Global.PluginDir = d
			} else {
				top(key, "must be a directory path (a string)")
			}
		case "variables", "description":
		default:
			msg := "unknown key in [global]"
			if s := Nearest(k, []string{"log_level", "channel_capacity", "batch_size", "plugins", "plugin_dir", "variables"}); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			top(key, "%s", msg)
		}
	}
}

func (f *File) decodeStage(i int, t map[string]any, sub func(string, string) string) {
	d := StageDecl{Index: i, Config: map[string]any{}}
	bad := func(key, format string, args ...any) {
		f.problems = append(f.problems, &ConfigError{File: f.Path, Line: f.lines.stageLine(i, key),
			Stage: d.ID, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if id, ok := t["id"].(string); ok {
		d.ID = id
	}
	for _, k := range sortedKeys(t) {
		v := t[k]
		switch k {
		case "id":
			if _, ok := v.(string); !ok {
				bad(k, "must be a string")
			}
		case "function", "type":
			s, ok := v.(string)
			if !ok {
				bad(k, "must be a string")
				continue
			}
			if d.Function != "" && d.Function != s {
				bad(k, "both function and type are set, to different stages")
				continue
			}
			d.Function = s
		case "inputs":
			switch l := v.(type) {
			case []any:
				for _, e := range l {
					s, ok := e.(string)
					if !ok {
						bad(k, "must be a list of stage ids")
						break
					}
					d.Inputs = append(d.Inputs, sub("inputs", s))
				}
			case string:
				d.Inputs = []string{sub("inputs", l)}
			default:
				bad(k, "must be a list of stage ids")
			}
		case "config":
			m, ok := v.(map[string]any)
			if !ok {
				bad(k, "must be a table")
				continue
			}
			d.Config = substituteAll(m, func(s string) string { return sub("config", s) }).(map[string]any)
		case "name", "description":
		default:
			msg := "unknown key in [[stages]]"
			if s := Nearest(k, []string{"id", "function", "type", "inputs", "config"}); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (stage parameters go under [stages.config])"
			}
			bad(k, "%s", msg)
		}
	}
	// Remember the file order of config sub-tables (columns = {...}).
	if i < len(f.lines.order) {
		for subName, keys := range f.lines.order[i] {
			name := strings.TrimPrefix(subName, "config.")
			if name == subName || strings.Contains(name, ".") {
				continue
			}
			if _, ok := d.Config[name].(map[string]any); ok {
				d.Config[name+"\x00order"] = keys
			}
		}
	}
	f.Stages = append(f.Stages, d)
}

func (f *File) decodeErrorHandling(t map[string]any, top func(string, string, ...any), sub func(string, string) string) {
	for _, k := range sortedKeys(t) {
		v := t[k]
		key := "error_handling." + k
		switch k {
		case "strategy":
			s, _ := v.(string)
			switch Strategy(s) {
			case StrategyStop, StrategyContinue, StrategyRetry:
				f.ErrorHandling.Strategy = Strategy(s)
			default:
				top(key, "must be stop, continue or retry; got %v", v)
			}
		case "max_retries":
			n, ok := v.(int64)
			if !ok || n < 0 {
				top(key, "must be a non-negative integer, got %v", v)
				continue
			}
			f.ErrorHandling.MaxRetries = int(n)
		case "retry_delay_seconds":
			switch x := v.(type) {
			case int64:
				f.ErrorHandling.RetryDelaySeconds = float64(x)
			case float64:
				f.ErrorHandling.RetryDelaySeconds = x
			default:
				top(key, "must be a number of seconds, got %v", v)
			}
		case "dead_letter_queue":
			m, ok := v.(map[string]any)
			if !ok {
				top(key, "must be a table")
				continue
			}
			f.ErrorHandling.DeadLetter.Enabled = true
			for _, kk := range sortedKeys(m) {
				switch kk {
				case "enabled":
					b, ok := m[kk].(bool)
					if !ok {
						top(key+"."+kk, "must be true or false")
					}
					f.ErrorHandling.DeadLetter.Enabled = b
				case "path":
					s, ok := m[kk].(string)
					if !ok {
						top(key+"."+kk, "must be a string")
					}
					f.ErrorHandling.DeadLetter.Path = sub(key+"."+kk, s)
				default:
					top(key+"."+kk, "unknown key (valid: enabled, path)")
				}
			}
		default:
			msg := "unknown key in [error_handling]"
			if s := Nearest(k, []string{"strategy", "max_retries", "retry_delay_seconds", "dead_letter_queue"}); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			top(key, "%s", msg)
		}
	}
}

var (
	reEnv = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)
	reVar = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}`)
)

// substituteEnv replaces ${NAME} (and ${NAME:-default}) with the
// environment. An unset variable without a default is an error.
func substituteEnv(s string) (string, error) {
	var missing []string
	out := reEnv.ReplaceAllStringFunc(s, func(m string) string {
		g := reEnv.FindStringSubmatch(m)
		if v, ok := os.LookupEnv(g[1]); ok {
			return v
		}
		if g[2] != "" {
			return g[3]
		}
		missing = append(missing, g[1])
		return m
	})
	if len(missing) > 0 {
		return out, fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a fallback)", missing[0], missing[0])
	}
	return out, nil
}

// substituteVars replaces {{name}} where name is a pipeline variable; other
// {{column}} references are row templates and stay.
func substituteVars(s string, vars map[string]string) string {
	if len(vars) == 0 || !strings.Contains(s, "{{") {
		return s
	}
	return reVar.ReplaceAllStringFunc(s, func(m string) string {
		name := reVar.FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

func substituteAll(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substituteAll(e, f)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substituteAll(e, f)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substituteAll(e, f)
		}
		return out
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
