package flow

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CheckConfig validates a stage's raw [stages.config] table against its
// spec and returns the typed config with defaults filled in. Every problem
// is reported (Key set; the caller adds file, line and stage).
func CheckConfig(spec *Spec, raw map[string]any) (Config, ConfigErrors) {
	cfg := Config{}
	var errs ConfigErrors
	add := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	names := make([]string, 0, len(spec.Params))
	byName := map[string]*Param{}
	for i := range spec.Params {
		p := &spec.Params[i]
		names = append(names, p.Name)
		byName[p.Name] = p
		for _, a := range p.Aliases {
			byName[a] = p
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		if !strings.Contains(k, "\x00") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		p, ok := byName[k]
		if !ok {
			msg := fmt.Sprintf("unknown parameter for %s", spec.Name)
			if s := Nearest(k, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += fmt.Sprintf(" (valid: %s)", strings.Join(names, ", "))
			}
			add(k, "%s", msg)
			continue
		}
		if _, dup := cfg[p.Name]; dup {
			add(k, "set twice (as %q and an alias)", p.Name)
			continue
		}
		tv, err := coerce(p, v)
		if err != nil {
			add(k, "%v", err)
			continue
		}
		cfg[p.Name] = tv
		if order, ok := raw[k+"\x00order"]; ok {
			cfg[p.Name+"\x00order"] = order
		}
	}
	for i := range spec.Params {
		p := &spec.Params[i]
		if _, ok := cfg[p.Name]; ok {
			continue
		}
		if p.Required {
			add(p.Name, "required parameter of %s is missing", spec.Name)
			continue
		}
		if p.Default != nil {
			if tv, err := coerce(p, p.Default); err == nil {
				cfg[p.Name] = tv
			}
		}
	}
	if len(errs) == 0 && spec.Check != nil {
		errs = append(errs, spec.Check(cfg)...)
	}
	return cfg, errs
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, int:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a bool"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("%T", v)
}

func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case []map[string]any:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = m
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}

func coerce(p *Param, v any) (any, error) {
	v = normalize(v)
	want := p.Type
	var out any
	switch want {
	case TypeAny:
		out = v
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string, got %s", typeName(v))
		}
		out = s
	case TypeInt:
		switch x := v.(type) {
		case int64:
			out = x
		case float64:
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("must be an integer, got %v", x)
			}
			out = int64(x)
		case string:
			// A number written as a string, typically "${VAR:-100}".
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("must be an integer, got the string %q", x)
			}
			out = n
		default:
			return nil, fmt.Errorf("must be an integer, got %s", typeName(v))
		}
	case TypeFloat:
		switch x := v.(type) {
		case int64:
			out = float64(x)
		case float64:
			out = x
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("must be a number, got the string %q", x)
			}
			out = f
		default:
			return nil, fmt.Errorf("must be a number, got %s", typeName(v))
		}
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("must be true or false, got %s", typeName(v))
		}
		out = b
	case TypeList:
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("must be a list, got %s", typeName(v))
		}
		out = l
	case TypeTable:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("must be a table, got %s", typeName(v))
		}
		out = m
	case TypeDuration:
		switch x := v.(type) {
		case string:
			d, err := ParseDuration(x)
			if err != nil {
				return nil, err
			}
			out = d
		case int64:
			out = time.Duration(x) * time.Second
		case float64:
			out = time.Duration(x * float64(time.Second))
		case time.Duration:
			out = x
		default:
			return nil, fmt.Errorf("must be a duration such as \"500ms\" or \"5s\", got %s", typeName(v))
		}
	case TypeBoolOrList:
		switch v.(type) {
		case bool, []any:
			out = v
		default:
			return nil, fmt.Errorf("must be a bool or a list, got %s", typeName(v))
		}
	case TypeStringOrList:
		switch x := v.(type) {
		case string:
			out = x
		case []any:
			for _, e := range x {
				if _, ok := e.(string); !ok {
					return nil, fmt.Errorf("must be a string or a list of strings, got an element that is %s", typeName(e))
				}
			}
			out = x
		default:
			return nil, fmt.Errorf("must be a string or a list of strings, got %s", typeName(v))
		}
	default:
		return nil, fmt.Errorf("parameter type %q unknown", want)
	}
	if len(p.Allowed) > 0 {
		for _, s := range stringsOf(out) {
			if !slices.Contains(p.Allowed, s) {
				msg := fmt.Sprintf("%q is not allowed (allowed: %s)", s, strings.Join(p.Allowed, ", "))
				if n := Nearest(s, p.Allowed); n != "" {
					msg = fmt.Sprintf("%q is not allowed (did you mean %q? allowed: %s)", s, n, strings.Join(p.Allowed, ", "))
				}
				return nil, fmt.Errorf("%s", msg)
			}
		}
	}
	if p.Min != nil || p.Max != nil {
		var f float64
		switch x := out.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		case time.Duration:
			f = x.Seconds()
		default:
			return out, nil
		}
		if p.Min != nil && f < *p.Min {
			return nil, fmt.Errorf("must be at least %v, got %v", *p.Min, out)
		}
		if p.Max != nil && f > *p.Max {
			return nil, fmt.Errorf("must be at most %v, got %v", *p.Max, out)
		}
	}
	return out, nil
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
