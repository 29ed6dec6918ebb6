package pipetest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// normalizeTOML turns a TOML value of a row into the form batch.Builder and
// the comparison take. Floats become json.Number keeping a decimal point,
// so that 120.0 stays a float (JSON inference would read an integral
// float64 as an integer); date-times become RFC 3339 text in UTC (a local
// date-time is read as UTC, as Conveyor reads timestamps without offset);
// local dates and times become their text.
func normalizeTOML(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		return floatNumber(x), nil
	case time.Time:
		switch x.Location().String() {
		case "date-local":
			return x.Format(time.DateOnly), nil
		case "time-local":
			return x.Format("15:04:05.999999999"), nil
		}
		return localAsUTC(x).Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeTOML(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeTOML(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalizeTOML(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %v (%T)", v, v)
}

// floatNumber renders a float as a JSON number that reads back as a float.
func floatNumber(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.Number(s)
}

// localAsUTC reads a TOML local date-time (no offset) as UTC.
func localAsUTC(t time.Time) time.Time {
	switch t.Location().String() {
	case "datetime-local", "date-local", "time-local":
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	return t.UTC()
}

// parseNDJSON reads one JSON object per non-blank line; where(n) names
// line n (1-based) for messages and rejections.
func parseNDJSON(text string, where func(n int) string) (Data, error) {
	var d Data
	for n, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, keys, err := batch.ParseObject([]byte(line))
		if err != nil {
			return d, fmt.Errorf("%s: %v", where(n+1), err)
		}
		for _, k := range keys {
			if !slices.Contains(d.Columns, k) {
				d.Columns = append(d.Columns, k)
			}
		}
		d.Rows = append(d.Rows, m)
		d.Where = append(d.Where, where(n+1))
	}
	return d, nil
}

// readDataFile reads rows from a data file: CSV with a header (.csv),
// JSON lines (.jsonl, .ndjson), or a JSON array of objects or JSON lines
// (.json).
func readDataFile(path string) (Data, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Data{}, err
	}
	name := filepath.Base(path)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return parseCSV(path, src)
	case ".jsonl", ".ndjson":
		return parseNDJSON(string(src), func(n int) string { return fmt.Sprintf("%s:%d", path, n) })
	case ".json":
		if t := bytes.TrimSpace(src); len(t) > 0 && t[0] == '[' {
			return parseJSONArray(path, src)
		}
		return parseNDJSON(string(src), func(n int) string { return fmt.Sprintf("%s:%d", path, n) })
	}
	return Data{}, fmt.Errorf("%s: unknown data format (use .csv, .jsonl, .ndjson or .json)", name)
}

func parseJSONArray(path string, src []byte) (Data, error) {
	var d Data
	var items []json.RawMessage
	if err := json.Unmarshal(src, &items); err != nil {
		return d, fmt.Errorf("%s: %v", path, err)
	}
	for i, it := range items {
		m, keys, err := batch.ParseObject(it)
		if err != nil {
			return d, fmt.Errorf("%s: element %d: %v", path, i+1, err)
		}
		for _, k := range keys {
			if !slices.Contains(d.Columns, k) {
				d.Columns = append(d.Columns, k)
			}
		}
		d.Rows = append(d.Rows, m)
		d.Where = append(d.Where, fmt.Sprintf("%s (element %d)", path, i+1))
	}
	return d, nil
}

// parseCSV reads a CSV file with a header. Column types are inferred from
// the text as csv.read does (int, float, bool, timestamp, else string); an
// empty field is null.
func parseCSV(path string, src []byte) (Data, error) {
	d := Data{Types: map[string]arrow.DataType{}}
	r := csv.NewReader(bytes.NewReader(src))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return d, fmt.Errorf("%s: empty file (a header line is needed)", path)
		}
		return d, fmt.Errorf("%s: %v", path, err)
	}
	d.Columns = header
	var records [][]string
	var lines []int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("%s: %v", path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			return d, fmt.Errorf("%s:%d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		records = append(records, rec)
		lines = append(lines, line)
	}
	infer := make([]batch.Inferrer, len(header))
	for _, rec := range records {
		for c, v := range rec {
			if v != "" {
				infer[c].Observe([]byte(v))
			}
		}
	}
	for c, name := range header {
		d.Types[name] = infer[c].Type()
	}
	for i, rec := range records {
		row := make(map[string]any, len(rec))
		for c, v := range rec {
			if v == "" {
				row[header[c]] = nil
				continue
			}
			row[header[c]] = v
		}
		d.Rows = append(d.Rows, row)
		d.Where = append(d.Where, fmt.Sprintf("%s:%d", path, lines[i]))
	}
	return d, nil
}

// inputSchema is the schema of the rows a replaced stage emits: the types
// the case gives (`schema`), over the types the stage itself declares (its
// `schema` parameter, or a generator's columns), over types the data
// format knows (CSV), and the rest inferred from the values as JSON
// inference does. Declared columns come first, in their order; columns
// only the rows have follow in order of first appearance.
func inputSchema(explicit, declared *arrow.Schema, d Data) *arrow.Schema {
	var fields []arrow.Field
	index := map[string]int{}
	put := func(f arrow.Field) {
		f.Nullable = true
		if i, ok := index[f.Name]; ok {
			fields[i] = f
			return
		}
		index[f.Name] = len(fields)
		fields = append(fields, f)
	}
	if declared != nil {
		for _, f := range declared.Fields() {
			put(f)
		}
	}
	if explicit != nil {
		for _, f := range explicit.Fields() {
			put(f)
		}
	}
	var rest []string
	for _, c := range d.Columns {
		if _, ok := index[c]; ok {
			continue
		}
		if t, ok := d.Types[c]; ok {
			put(arrow.Field{Name: c, Type: t})
			continue
		}
		rest = append(rest, c)
	}
	if len(rest) > 0 {
		in := batch.NewJSONInferrer()
		for _, r := range d.Rows {
			in.Observe(r)
		}
		inferred := in.Schema()
		for _, c := range rest {
			if i := inferred.FieldIndices(c); len(i) > 0 {
				put(inferred.Field(i[0]))
			} else {
				put(arrow.Field{Name: c, Type: arrow.BinaryTypes.String})
			}
		}
	}
	return arrow.NewSchema(fields, nil)
}

// configSchemaSources are the sources whose Spec.Schema derives the schema
// from the configuration alone, without reading anything: a replaced
// source of these keeps its schema.
var configSchemaSources = map[string]bool{"generate": true}

// declaredSchema is the schema a source stage declares in its validated
// config: a `schema` table (csv.read, json.read, kafka.consume, http
// sources, stdin...), or the columns of a generator. Nothing is read: a
// schema inferred from a real file or service is not used (the test would
// then depend on it).
func declaredSchema(n *flow.Node) *arrow.Schema {
	if n.Spec.Param("schema") != nil && n.Config.Has("schema") {
		if sc, err := batch.SchemaFromTable(n.Config.Table("schema"), n.Config.SortedKeys("schema")); err == nil {
			return sc
		}
	}
	if configSchemaSources[n.Spec.Name] && n.Spec.Schema != nil {
		if sc, err := n.Spec.Schema(n.Config, flow.BuildEnv{StageID: n.ID, BatchSize: 1024}, nil); err == nil {
			return sc
		}
	}
	return nil
}
