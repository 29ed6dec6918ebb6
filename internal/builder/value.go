package builder

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/conveyor-etl/conveyor/flow"
)

// Value is one parameter as the builder writes it: its TOML text and the
// decoded value that was checked against the spec.
type Value struct {
	Key  string
	TOML string
	Go   any
	// Text is what was typed (offered again when the value is changed).
	Text string
}

var idPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// CheckID reports whether id can name a new stage: letters, digits, _ and -
// (starting with a letter or _), and not one of taken. Dots are left out
// so that "id.port" input references stay unambiguous.
func CheckID(id string, taken []string) error {
	switch {
	case id == "":
		return errors.New("a stage needs an id")
	case !idPattern.MatchString(id):
		return fmt.Errorf("%q: use letters, digits, _ and - (starting with a letter or _)", id)
	}
	for _, t := range taken {
		if t == id {
			return fmt.Errorf("%q is already the id of a stage", id)
		}
	}
	return nil
}

// ParseParam turns what was typed for parameter p into a TOML value.
//
//   - str: the text as typed; text in double quotes is a TOML string, so
//     that escapes such as "\t" can be written.
//   - int, float: a number; dur: a duration such as 500ms, 5s or 1h.
//   - list, table, bool|list: a TOML value ([1, 2], {a = "int"}); a list
//     may also be written as comma-separated words (region, product).
//   - str|list: a TOML value, words separated by commas (a list), or else
//     the text as a string.
//   - any: a TOML value, or else the text as a string.
//
// The empty text gives (nil, nil).
func ParseParam(p *flow.Param, text string) (*Value, error) {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return nil, nil
	}
	v := &Value{Key: p.Name}
	switch p.Type {
	case flow.TypeString:
		s := text
		if len(trimmed) >= 2 && strings.HasPrefix(trimmed, `"`) && strings.HasSuffix(trimmed, `"`) {
			if d, err := decodeTOML(trimmed); err == nil {
				if ds, ok := d.(string); ok {
					s = ds
				}
			}
		}
		v.Go = s
	case flow.TypeInt:
		n, err := strconv.ParseInt(strings.ReplaceAll(trimmed, "_", ""), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", trimmed)
		}
		v.Go = n
	case flow.TypeFloat:
		f, err := strconv.ParseFloat(strings.ReplaceAll(trimmed, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not a number", trimmed)
		}
		v.Go = f
	case flow.TypeBool:
		b, err := strconv.ParseBool(strings.ToLower(trimmed))
		if err != nil {
			return nil, fmt.Errorf("%q: answer true or false", trimmed)
		}
		v.Go = b
	case flow.TypeDuration:
		s := strings.Trim(trimmed, `"`)
		if _, err := flow.ParseDuration(s); err != nil {
			return nil, err
		}
		v.Go = s
	case flow.TypeList:
		d, err := decodeTOML(trimmed)
		if err != nil {
			if strings.ContainsAny(trimmed, "[]{}\"'=") {
				return nil, fmt.Errorf("not a TOML list (%v); write e.g. [\"a\", \"b\"] or a, b", err)
			}
			d = splitWords(trimmed)
		} else {
			v.TOML = trimmed
		}
		v.Go = d
	case flow.TypeTable:
		d, err := decodeTOML(trimmed)
		if err != nil {
			return nil, fmt.Errorf("not a TOML inline table (%v); write e.g. {name = \"str\", amount = \"float\"}", err)
		}
		v.Go, v.TOML = d, trimmed
	case flow.TypeBoolOrList:
		d, err := decodeTOML(trimmed)
		if err != nil {
			return nil, fmt.Errorf("write true, false or a list such as [true, false]")
		}
		v.Go, v.TOML = d, trimmed
	case flow.TypeStringOrList, flow.TypeAny:
		switch d, err := decodeTOML(trimmed); {
		case err == nil:
			v.Go, v.TOML = d, trimmed
		case p.Type == flow.TypeStringOrList && strings.Contains(trimmed, ","):
			v.Go = splitWords(trimmed)
		default:
			v.Go = text
		}
	default:
		return nil, fmt.Errorf("parameters of type %q cannot be entered here; edit the file", p.Type)
	}
	if v.TOML == "" {
		v.TOML = FormatTOML(v.Go)
	}
	return v, nil
}

// splitWords splits "a, b c" into ["a", "b c"].
func splitWords(s string) []any {
	var out []any
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// decodeTOML decodes the text of one TOML value.
func decodeTOML(text string) (any, error) {
	var m map[string]any
	if _, err := toml.Decode("v = "+text, &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, errors.New(pe.Message)
		}
		return nil, err
	}
	return m["v"], nil
}

// CheckParam checks a value of parameter key alone against spec, with the
// validator's own checks (type, allowed values, range). Problems of other
// parameters (those still to be asked) and cross-parameter rules (checked
// once every parameter is known) are not reported.
func CheckParam(spec *flow.Spec, key string, v any) error {
	alone := *spec
	alone.Check = nil
	_, errs := flow.CheckConfig(&alone, map[string]any{key: v})
	for _, e := range errs {
		if e.Key == key {
			return errors.New(e.Message)
		}
	}
	return nil
}

// FormatTOML renders a decoded value as TOML text (tables inline, keys
// sorted).
func FormatTOML(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatTOML(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = quote(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []map[string]any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatTOML(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = Key(k) + " = " + FormatTOML(x[k])
		}
		if len(parts) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return quote(fmt.Sprint(v))
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Key renders a TOML key, quoted when it is not bare.
func Key(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return quote(k)
}

// quote renders a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
