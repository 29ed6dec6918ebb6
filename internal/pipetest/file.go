package pipetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// DefaultNow is the instant the mock clock of a case shows when neither the
// case nor the file sets `now`.
var DefaultNow = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Suite is one parsed test file.
type Suite struct {
	// Path is the test file; Pipeline the pipeline file it tests.
	Path     string
	Pipeline string
	Cases    []*Case
	lines    *lineIndex
}

// Case is one [[case]] of a test file.
type Case struct {
	Name  string
	Index int
	Line  int
	// Now is the time of the run's mock clock.
	Now time.Time
	// Set holds config overrides by stage id (raw TOML values, merged into
	// the stage's [stages.config] like `--set`).
	Set map[string]map[string]any
	// Inputs are the rows given to stages, by stage id.
	Inputs map[string]*Input
	// Expects are the expectations, sorted by target.
	Expects []*Expect
	// Error, when WantError, is text the run's error must contain.
	Error     string
	WantError bool
	// DeadLetters, when set, is the number of records the run must send to
	// the dead-letter output (rejected rows and side outputs nobody reads).
	DeadLetters *int64
}

// Data is rows read from a test file (inline TOML, NDJSON text) or from a
// data file, with values normalised to what batch.Builder takes: nil,
// bool, int64, json.Number (floats keep their decimal point), string,
// json.RawMessage, []any and map[string]any.
type Data struct {
	Rows []map[string]any
	// Where locates each row ("sales_test.toml:12", "orders.jsonl:3").
	Where []string
	// Columns are the keys of the rows in order of first appearance.
	Columns []string
	// Types are column types known from the data's own format (CSV
	// columns inferred from text); others are inferred from the values.
	Types map[string]arrow.DataType
}

// Input is [case.input.STAGE]: rows the stage emits instead of running.
type Input struct {
	Stage string
	Line  int
	Data
	// Schema holds the types given with `schema` (nil: none).
	Schema *arrow.Schema
	// BatchSize is the rows per emitted batch (0: the pipeline's
	// batch_size).
	BatchSize int
}

// Expect is [case.expect.TARGET]: what must reach a stage, a stage's port
// ("load.errors") or a sink.
type Expect struct {
	Target string
	Line   int
	Data
	HasRows bool
	// Count, when HasCount, is the number of rows expected (rows unchecked).
	Count    int
	HasCount bool
	// Columns restricts the comparison to these columns (nil: all).
	Columns   []string
	Unordered bool
	// Tolerance, when HasTolerance, is the absolute difference under which
	// two numbers are equal; otherwise floats compare to 1e-9 relative and
	// integers exactly.
	Tolerance    float64
	HasTolerance bool
}

// Problem is one thing wrong with a test file: it names the file, line,
// case and key where known.
type Problem struct {
	File    string
	Line    int
	Case    string
	Key     string
	Message string
}

func (p *Problem) Error() string {
	s := p.File
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
	}
	if s != "" {
		s += ": "
	}
	if p.Case != "" {
		s += fmt.Sprintf("case %q: ", p.Case)
	}
	if p.Key != "" {
		s += fmt.Sprintf("key %q: ", p.Key)
	}
	return s + p.Message
}

// Problems is every problem found in one test file.
type Problems []*Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and parses a test file.
func Load(path string) (*Suite, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Message: err.Error()}}
	}
	s, ps := Parse(path, src)
	if len(ps) > 0 {
		return s, ps
	}
	return s, nil
}

// DefaultPipeline is the pipeline a test file tests when it does not say:
// NAME.toml beside NAME_test.toml.
func DefaultPipeline(testPath string) string {
	return strings.TrimSuffix(testPath, "_test.toml") + ".toml"
}

var (
	topKeys    = []string{"pipeline", "now", "case"}
	caseKeys   = []string{"name", "description", "now", "set", "input", "expect", "error", "dead_letters"}
	inputKeys  = []string{"rows", "ndjson", "file", "schema", "batch_size"}
	expectKeys = []string{"rows", "ndjson", "file", "count", "columns", "unordered", "tolerance"}
)

// parser collects the problems of one file.
type parser struct {
	path  string
	dir   string
	lines *lineIndex
	// order maps a key path (without case indexes) to its sub-keys in
	// file order, per case: order[case][path].
	order []map[string][]string
	probs Problems
}

func (p *parser) add(caseIdx int, caseName, key, format string, args ...any) {
	line := p.lines.topLine(key)
	if caseIdx >= 0 {
		line = p.lines.caseLine(caseIdx, key)
	}
	p.probs = append(p.probs, &Problem{File: p.path, Line: line, Case: caseName, Key: key, Message: fmt.Sprintf(format, args...)})
}

func unknownKey(k string, valid []string) string {
	if s := flow.Nearest(k, valid); s != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", s)
	}
	return fmt.Sprintf("unknown key (valid: %s)", strings.Join(valid, ", "))
}

// Parse decodes a test file's text. Every problem found is returned.
func Parse(path string, src []byte) (*Suite, Problems) {
	s := &Suite{Path: path, Pipeline: DefaultPipeline(path)}
	var raw map[string]any
	md, err := toml.Decode(string(src), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return s, Problems{{File: path, Line: pe.Position.Line, Message: "TOML syntax: " + pe.Message}}
		}
		return s, Problems{{File: path, Message: "TOML syntax: " + err.Error()}}
	}
	p := &parser{path: path, dir: filepath.Dir(path), lines: indexLines(src)}
	s.lines = p.lines
	// Key order per case, from the decoder's metadata (keys come in file
	// order; each ["case"] key starts the next case).
	ci := -1
	for _, k := range md.Keys() {
		if len(k) == 1 && k[0] == "case" {
			ci++
			p.order = append(p.order, map[string][]string{})
			continue
		}
		if ci < 0 || len(k) < 2 || k[0] != "case" {
			continue
		}
		parent := strings.Join(k[1:len(k)-1], "\x00")
		last := k[len(k)-1]
		if !slices.Contains(p.order[ci][parent], last) {
			p.order[ci][parent] = append(p.order[ci][parent], last)
		}
	}

	fileNow := DefaultNow
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "pipeline":
			str, ok := v.(string)
			if !ok || str == "" {
				p.add(-1, "", k, "must be the path of the pipeline file (relative to the test file)")
				continue
			}
			if !filepath.IsAbs(str) {
				str = filepath.Join(p.dir, str)
			}
			s.Pipeline = str
		case "now":
			t, err := timeValue(v)
			if err != nil {
				p.add(-1, "", k, "%v", err)
				continue
			}
			fileNow = t
		case "case":
		default:
			p.add(-1, "", k, "%s", unknownKey(k, topKeys))
		}
	}
	cases, ok := raw["case"].([]map[string]any)
	if !ok || len(cases) == 0 {
		if _, present := raw["case"]; present {
			p.add(-1, "", "case", "must be an array of tables ([[case]])")
		} else {
			p.probs = append(p.probs, &Problem{File: path, Message: "the file has no [[case]]"})
		}
		return s, p.probs
	}
	names := map[string]int{}
	for i, t := range cases {
		c := p.parseCase(i, t, fileNow)
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				p.add(i, c.Name, "name", "two cases are named %q (the first on line %d)", c.Name, s.lines.caseLine(first, "name"))
			} else {
				names[c.Name] = i
			}
		}
		s.Cases = append(s.Cases, c)
	}
	sort.SliceStable(p.probs, func(a, b int) bool { return p.probs[a].Line < p.probs[b].Line })
	return s, p.probs
}

func (p *parser) parseCase(i int, t map[string]any, now time.Time) *Case {
	c := &Case{Index: i, Line: p.lines.caseLine(i, ""), Now: now, Set: map[string]map[string]any{}, Inputs: map[string]*Input{}}
	if n, ok := t["name"].(string); ok && strings.TrimSpace(n) != "" {
		c.Name = n
	} else {
		p.add(i, "", "name", "every case needs a name (name = \"...\")")
		c.Name = fmt.Sprintf("#%d", i+1)
	}
	add := func(key, format string, args ...any) { p.add(i, c.Name, key, format, args...) }
	for _, k := range sortedKeys(t) {
		v := t[k]
		switch k {
		case "name", "description":
			if _, ok := v.(string); !ok {
				add(k, "must be a string")
			}
		case "now":
			tm, err := timeValue(v)
			if err != nil {
				add(k, "%v", err)
				continue
			}
			c.Now = tm
		case "error":
			str, ok := v.(string)
			if !ok {
				add(k, "must be a string: text the run's error must contain")
				continue
			}
			c.Error, c.WantError = str, true
		case "dead_letters":
			n, ok := v.(int64)
			if !ok || n < 0 {
				add(k, "must be a number of records (0 or more)")
				continue
			}
			c.DeadLetters = &n
		case "set":
			m, ok := v.(map[string]any)
			if !ok {
				add(k, "must be a table: [case.set.STAGE] with the stage's config keys to override")
				continue
			}
			for _, stage := range sortedKeys(m) {
				kv, ok := m[stage].(map[string]any)
				if !ok {
					add("set."+stage, "must be a table of config keys ([case.set.%s] key = value)", stage)
					continue
				}
				c.Set[stage] = kv
			}
		case "input":
			m, ok := v.(map[string]any)
			if !ok {
				add(k, "must be a table: [case.input.STAGE]")
				continue
			}
			for _, stage := range sortedKeys(m) {
				if in := p.parseInput(i, c.Name, stage, m[stage]); in != nil {
					c.Inputs[stage] = in
				}
			}
		case "expect":
			m, ok := v.(map[string]any)
			if !ok {
				add(k, "must be a table: [case.expect.STAGE]")
				continue
			}
			for _, target := range sortedKeys(m) {
				if e := p.parseExpect(i, c.Name, target, m[target]); e != nil {
					c.Expects = append(c.Expects, e)
				}
			}
		default:
			add(k, "%s", unknownKey(k, caseKeys))
		}
	}
	if len(c.Expects) == 0 && !c.WantError && c.DeadLetters == nil {
		add("expect", "the case checks nothing: add [case.expect.STAGE] (or error = \"...\", dead_letters = N)")
	}
	return c
}

// parseData reads the rows of an input or expectation: rows, ndjson or
// file (exactly one of them).
func (p *parser) parseData(i int, caseName, kind, name string, t map[string]any) (Data, bool) {
	base := kind + "." + name
	var d Data
	var given []string
	for _, k := range []string{"rows", "ndjson", "file"} {
		if _, ok := t[k]; ok {
			given = append(given, k)
		}
	}
	if len(given) > 1 {
		p.add(i, caseName, base+"."+given[1], "give the rows once: rows, ndjson or file (found %s)", strings.Join(given, " and "))
		return d, false
	}
	if len(given) == 0 {
		return d, false
	}
	key := base + "." + given[0]
	bad := func(format string, args ...any) (Data, bool) {
		p.add(i, caseName, key, format, args...)
		return Data{}, true
	}
	switch given[0] {
	case "rows":
		var list []map[string]any
		switch x := t["rows"].(type) {
		case []map[string]any:
			list = x
		case []any:
			for r, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return bad("row %d must be a table ({ column = value, ... })", r+1)
				}
				list = append(list, m)
			}
		default:
			return bad("must be an array of tables: rows = [{ a = 1 }, ...] or [[...rows]] (rows = [] for none)")
		}
		d.Columns = append(d.Columns, p.keyOrder(i, kind, name, "rows")...)
		for r, m := range list {
			row := make(map[string]any, len(m))
			for _, col := range sortedKeys(m) {
				v, err := normalizeTOML(m[col])
				if err != nil {
					return bad("row %d, column %q: %v", r+1, col, err)
				}
				row[col] = v
				if !slices.Contains(d.Columns, col) {
					d.Columns = append(d.Columns, col)
				}
			}
			d.Rows = append(d.Rows, row)
			d.Where = append(d.Where, fmt.Sprintf("%s:%d", p.path, p.lines.rowLine(i, key, r)))
		}
	case "ndjson":
		text, ok := t["ndjson"].(string)
		if !ok {
			return bad("must be a string of JSON objects, one per line")
		}
		first := p.lines.caseLine(i, key)
		var err error
		d, err = parseNDJSON(text, func(n int) string { return fmt.Sprintf("%s:%d", p.path, first+n) })
		if err != nil {
			return bad("%v", err)
		}
	case "file":
		name, ok := t["file"].(string)
		if !ok || name == "" {
			return bad("must be the path of a data file (.csv, .jsonl, .ndjson or .json), relative to the test file")
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(p.dir, name)
		}
		var err error
		d, err = readDataFile(name)
		if err != nil {
			return bad("%v", err)
		}
	}
	return d, true
}

func (p *parser) parseInput(i int, caseName, stage string, v any) *Input {
	base := "input." + stage
	t, ok := v.(map[string]any)
	if !ok {
		p.add(i, caseName, base, "must be a table: [case.input.%s] with rows, ndjson or file", quoteKey(stage))
		return nil
	}
	in := &Input{Stage: stage, Line: p.lines.caseLine(i, base)}
	for _, k := range sortedKeys(t) {
		switch k {
		case "rows", "ndjson", "file":
		case "schema":
			m, ok := t[k].(map[string]any)
			if !ok {
				p.add(i, caseName, base+"."+k, "must be a table of column = type (int, float, bool, string, timestamp, date)")
				continue
			}
			order := p.keyOrder(i, "input", stage, "schema")
			if len(order) != len(m) {
				order = sortedKeys(m)
			}
			sc, err := batch.SchemaFromTable(m, order)
			if err != nil {
				p.add(i, caseName, base+"."+k, "%v", err)
				continue
			}
			in.Schema = sc
		case "batch_size":
			n, ok := t[k].(int64)
			if !ok || n < 1 {
				p.add(i, caseName, base+"."+k, "must be a positive number of rows")
				continue
			}
			in.BatchSize = int(n)
		default:
			p.add(i, caseName, base+"."+k, "%s", unknownKey(k, inputKeys))
		}
	}
	d, ok := p.parseData(i, caseName, "input", stage, t)
	if !ok {
		if _, given := t["rows"]; !given && t["ndjson"] == nil && t["file"] == nil {
			p.add(i, caseName, base, "give the stage's rows: rows = [...], ndjson = \"\"\"...\"\"\" or file = \"...\" (rows = [] for none)")
		}
		return nil
	}
	in.Data = d
	return in
}

func (p *parser) parseExpect(i int, caseName, target string, v any) *Expect {
	base := "expect." + target
	t, ok := v.(map[string]any)
	if !ok {
		p.add(i, caseName, base, "must be a table: [case.expect.%s] with rows, ndjson, file or count", quoteKey(target))
		return nil
	}
	e := &Expect{Target: target, Line: p.lines.caseLine(i, base)}
	for _, k := range sortedKeys(t) {
		key := base + "." + k
		switch k {
		case "rows", "ndjson", "file":
		case "count":
			n, ok := t[k].(int64)
			if !ok || n < 0 {
				p.add(i, caseName, key, "must be a number of rows (0 or more)")
				continue
			}
			e.Count, e.HasCount = int(n), true
		case "columns":
			l, ok := t[k].([]any)
			if !ok || len(l) == 0 {
				p.add(i, caseName, key, "must be a non-empty list of column names")
				continue
			}
			for _, c := range l {
				s, ok := c.(string)
				if !ok {
					p.add(i, caseName, key, "must be a list of column names (strings)")
					break
				}
				e.Columns = append(e.Columns, s)
			}
		case "unordered":
			b, ok := t[k].(bool)
			if !ok {
				p.add(i, caseName, key, "must be true or false")
				continue
			}
			e.Unordered = b
		case "tolerance":
			var f float64
			switch x := t[k].(type) {
			case float64:
				f = x
			case int64:
				f = float64(x)
			default:
				p.add(i, caseName, key, "must be a number (the largest absolute difference of equal numbers)")
				continue
			}
			if f < 0 {
				p.add(i, caseName, key, "must not be negative")
				continue
			}
			e.Tolerance, e.HasTolerance = f, true
		default:
			p.add(i, caseName, key, "%s", unknownKey(k, expectKeys))
		}
	}
	d, ok := p.parseData(i, caseName, "expect", target, t)
	switch {
	case ok:
		e.Data, e.HasRows = d, true
		if e.HasCount {
			p.add(i, caseName, base+".count", "give either rows or count (count checks the number of rows only)")
		}
	case !e.HasCount && t["rows"] == nil && t["ndjson"] == nil && t["file"] == nil:
		p.add(i, caseName, base, "give the expected rows: rows = [...], ndjson = \"\"\"...\"\"\" or file = \"...\" (rows = [] for none), or count = N")
	}
	if e.HasRows && len(e.Columns) > 0 {
		for r, row := range e.Rows {
			for col := range row {
				if !slices.Contains(e.Columns, col) {
					p.add(i, caseName, base+".columns", "row %d has column %q, which columns does not list", r+1, col)
					return e
				}
			}
		}
	}
	return e
}

// keyOrder returns the keys under a table of case i in file order.
func (p *parser) keyOrder(i int, parts ...string) []string {
	if i < 0 || i >= len(p.order) {
		return nil
	}
	return p.order[i][strings.Join(parts, "\x00")]
}

func quoteKey(k string) string {
	if strings.ContainsAny(k, ". \"'") {
		return fmt.Sprintf("%q", k)
	}
	return k
}

// timeValue reads `now`: a TOML date-time or an RFC 3339 string. A local
// date-time is taken as UTC.
func timeValue(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return localAsUTC(x), nil
	case string:
		if us, ok := batch.ParseTimestamp([]byte(x)); ok {
			return time.UnixMicro(us).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("must be a date-time such as 2024-05-01T10:00:00Z")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
